# The optional MPI collectives addon (attnode_mpi.node). Its own gyp file, built with
# `node scripts/build-dist.mjs` (npm run build:dist), so the main addon (../../binding.gyp) and its
# prebuilt binary never link libmpi. Compile and link flags come from Open MPI's wrapper compiler.
{
  "targets": [
    {
      "target_name": "attnode_mpi",
      "sources": ["mpi_core.cpp", "mpi_binding.cpp"],
      "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")"],
      "defines": ["NAPI_VERSION=8", "NAPI_CPP_EXCEPTIONS", "OMPI_SKIP_MPICXX=1", "MPICH_SKIP_MPICXX=1"],
      "cflags_cc": ["-std=c++17", "-O2", "-fPIC", "-Wall", "<!@(mpicc --showme:compile)"],
      "cflags_cc!": ["-fno-exceptions", "-std=gnu++17", "-std=gnu++20"],
      "libraries": ["<!@(mpicc --showme:link)", "-ldl"]
    }
  ]
}
