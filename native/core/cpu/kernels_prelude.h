// Headers every ISA translation unit needs before it opens its namespace. Only C headers and
// builtins are used inside the variants: no std:: templates, whose out-of-line copies could be
// shared between variants by the linker and run AVX-512 code on a CPU without it.
#pragma once
#include <immintrin.h>
#include <omp.h>

#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <new>

#include "core/attention.h"
#include "core/bf16_bits.h"
#include "core/cpu/dropout_hash.h"
#include "core/cpu/dropout_element.h"
#include "core/cpu/kernel_table.h"
#include "core/scratch.h"
#include "core/threads.h"
