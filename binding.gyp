{
  # Core sources come from native/sources.json, the list CMakeLists.txt reads too.
  # Baseline code is compiled for x86-64-v2; each ISA variant is its own static library with
  # its own flags, selected at load time by native/core/dispatch.cpp (cpuid + xgetbv).
  "variables": {
    "attnode_avx512%": "<!(node scripts/probe-avx512.cjs)",
    "attnode_avx512bf16%": "<!(node scripts/probe-avx512.cjs bf16)",
    "attnode_common_cflags": ["-O3", "-fPIC", "-fopenmp", "-fno-math-errno", "-ffp-contract=fast", "-Wall", "-Wno-unused-function"]
  },
  "targets": [
    {
      "target_name": "attnode_avx2",
      "type": "static_library",
      "sources": ["<!@(node scripts/sources.cjs avx2)"],
      "include_dirs": ["native"],
      "cflags_cc": ["-std=c++17", "<@(attnode_common_cflags)", "-march=x86-64-v2", "-mavx2", "-mfma"],
      "cflags_cc!": ["-fno-exceptions", "-std=gnu++17", "-std=gnu++20"]
    },
    {
      "target_name": "attnode_avx512",
      "type": "static_library",
      "conditions": [
        ["attnode_avx512==1", {
          "sources": ["<!@(node scripts/sources.cjs avx512)"],
          "direct_dependent_settings": { "defines": ["ATTNODE_HAVE_AVX512=1"] }
        }]
      ],
      "include_dirs": ["native"],
      "cflags_cc": ["-std=c++17", "<@(attnode_common_cflags)", "-march=x86-64-v2", "-mavx2", "-mfma",
                    "-mavx512f", "-mavx512vl", "-mavx512bw", "-mavx512dq", "-mprefer-vector-width=512"],
      "cflags_cc!": ["-fno-exceptions", "-std=gnu++17", "-std=gnu++20"]
    },
    {
      # The bf16 GEMM and attention (vdpbf16ps): their own flags, -mavx512bf16; called only on CPUs with AVX512_BF16.
      "target_name": "attnode_avx512bf16",
      "type": "static_library",
      "conditions": [
        ["attnode_avx512==1 and attnode_avx512bf16==1", {
          "sources": ["<!@(node scripts/sources.cjs avx512bf16)"],
          "direct_dependent_settings": { "defines": ["ATTNODE_HAVE_AVX512BF16=1"] }
        }]
      ],
      "include_dirs": ["native"],
      "cflags_cc": ["-std=c++17", "<@(attnode_common_cflags)", "-march=x86-64-v2", "-mavx2", "-mfma",
                    "-mavx512f", "-mavx512vl", "-mavx512bw", "-mavx512dq", "-mavx512bf16", "-mprefer-vector-width=512"],
      "cflags_cc!": ["-fno-exceptions", "-std=gnu++17", "-std=gnu++20"]
    },
    {
      "target_name": "attnode",
      "dependencies": ["attnode_avx2", "attnode_avx512", "attnode_avx512bf16"],
      "sources": ["<!@(node scripts/sources.cjs core)", "<!@(node scripts/sources.cjs binding)"],
      "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")", "native"],
      "defines": ["NAPI_VERSION=8", "NAPI_CPP_EXCEPTIONS", "NODE_ADDON_API_DISABLE_DEPRECATED"],
      "cflags_cc": ["-std=c++17", "<@(attnode_common_cflags)", "-march=x86-64-v2"],
      "cflags_cc!": ["-fno-exceptions", "-std=gnu++17", "-std=gnu++20"],
      # OpenMP runtime: a PIC libgomp.a when one can be had (prebuilds always), else -fopenmp (dynamic);
      # scripts/openmp-link.cjs decides and says which. --exclude-libs keeps libgomp's and our static
      # libraries' symbols out of the addon's dynamic symbol table.
      "ldflags": ["-Wl,--exclude-libs,ALL"],
      "libraries": ["<!@(node scripts/openmp-link.cjs)"]
    }
  ]
}
