# Third-party dependencies. Debian packages for everything but LibTorch, which comes from the
# pinned PyPI wheel (scripts/versions.env) and is found through CMAKE_PREFIX_PATH.
find_package(Threads REQUIRED)
find_package(yaml-cpp REQUIRED)
find_package(fmt REQUIRED)
find_package(spdlog REQUIRED)
find_package(nlohmann_json REQUIRED)
find_package(CLI11 REQUIRED)
find_package(ZLIB REQUIRED)
find_package(PkgConfig REQUIRED)
pkg_check_modules(PCRE2 REQUIRED IMPORTED_TARGET libpcre2-8)
pkg_check_modules(SENTENCEPIECE REQUIRED IMPORTED_TARGET sentencepiece)
pkg_check_modules(ZSTD REQUIRED IMPORTED_TARGET libzstd)
pkg_check_modules(UTF8PROC REQUIRED IMPORTED_TARGET libutf8proc)

# The torch wheel ships fmt 12 headers in its include dir while Debian's spdlog is built against
# fmt 9 in /usr/include, a system dir that -I ordering cannot put first. A shim dir holding only
# a `fmt` link to the fmt spdlog was built with is added BEFORE torch's includes on every target.
get_target_property(_fmt_inc fmt::fmt INTERFACE_INCLUDE_DIRECTORIES)
list(GET _fmt_inc 0 _fmt_inc)
set(PT_FMT_SHIM ${CMAKE_BINARY_DIR}/fmt-shim)
file(MAKE_DIRECTORY ${PT_FMT_SHIM})
if(NOT EXISTS ${PT_FMT_SHIM}/fmt)
  file(CREATE_LINK ${_fmt_inc}/fmt ${PT_FMT_SHIM}/fmt SYMBOLIC)
endif()

# Hopper (H100/H200) is the GPU we verify on; keeps nvcc from targeting every arch.
if(NOT DEFINED ENV{TORCH_CUDA_ARCH_LIST})
  set(ENV{TORCH_CUDA_ARCH_LIST} "9.0")
endif()
find_package(Torch REQUIRED)
# libtorch.so exports copies of std::filesystem (linked in statically by its toolchain) that crash
# when called from our code (seen: std::filesystem::remove_all jumping to null). Putting
# libstdc++ first among a binary's NEEDED entries makes the dynamic linker bind those symbols to
# the system libstdc++ instead.
add_link_options("LINKER:--push-state,--no-as-needed" "-lstdc++" "LINKER:--pop-state")
# Torch's flags carry -D_GLIBCXX_USE_CXX11_ABI; every TU linking libtorch must agree.
separate_arguments(PT_TORCH_CXX_FLAGS UNIX_COMMAND "${TORCH_CXX_FLAGS}")
get_filename_component(PT_TORCH_LIB_DIR "${TORCH_LIBRARY}" DIRECTORY)
set(PT_RUNTIME_RPATH "${PT_TORCH_LIB_DIR}")
if(NOT TORCH_VERSION AND DEFINED Torch_VERSION)
  set(TORCH_VERSION ${Torch_VERSION})
endif()

set(PT_HAVE_CUDA 0)
if(POSTTRAIN_WITH_CUDA AND TARGET torch_cuda)
  set(PT_HAVE_CUDA 1)
endif()

set(PT_HAVE_NCCL 0)
if(POSTTRAIN_WITH_NCCL AND PT_HAVE_CUDA)
  # The wheel's own NCCL (nvidia-nccl-cu13) first so we link the one torch loads.
  get_filename_component(_site "${PT_TORCH_LIB_DIR}/../.." ABSOLUTE)
  find_path(PT_NCCL_INCLUDE_DIR nccl.h HINTS ${_site}/nvidia/nccl/include ${_site}/nvidia/cu13/include /usr/local/cuda/include)
  find_library(PT_NCCL_LIBRARY NAMES nccl libnccl.so.2 HINTS ${_site}/nvidia/nccl/lib ${_site}/nvidia/cu13/lib /usr/local/cuda/lib64)
  if(PT_NCCL_INCLUDE_DIR AND PT_NCCL_LIBRARY)
    set(PT_HAVE_NCCL 1)
  endif()
endif()

set(PT_HAVE_MPI 0)
if(POSTTRAIN_WITH_MPI)
  find_package(MPI COMPONENTS CXX)
  if(MPI_CXX_FOUND)
    set(PT_HAVE_MPI 1)
  endif()
endif()

configure_file(${CMAKE_SOURCE_DIR}/cmake/build_config.h.in ${CMAKE_BINARY_DIR}/generated/posttrain/build_config.h @ONLY)
message(STATUS "posttrain: torch ${TORCH_VERSION} cuda=${PT_HAVE_CUDA} nccl=${PT_HAVE_NCCL} mpi=${PT_HAVE_MPI}")
