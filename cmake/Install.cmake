# `cmake --install BUILD --prefix DIR` makes a relocatable prefix that runs without the build tree
# or the setup venv:
#   DIR/bin/posttrain                 RPATH relative to itself ($ORIGIN/../lib/posttrain/...)
#   DIR/lib/posttrain/torch/lib       the torch wheel's libraries, and
#   DIR/lib/posttrain/nvidia/*/lib    its CUDA / cuDNN / NCCL libraries, in the wheel's own relative
#                                     layout (torch's libraries find them through $ORIGIN/../../nvidia)
#   DIR/lib/posttrain/deps            every other library the binary needs (yaml-cpp, fmt, spdlog,
#                                     sentencepiece, PCRE2, utf8proc, zstd, libstdc++ ...)
#   DIR/share/posttrain               recipes (configs/, examples/), the recipe schema, Slurm scripts
# Not bundled, by design: glibc and the GPU driver (libcuda) come from the node, and MPI from the
# cluster (its launcher and libmpi must match: Open MPI's libmpi.so.40 ABI for this build).
get_filename_component(PT_SITE_PACKAGES "${PT_TORCH_LIB_DIR}/../.." ABSOLUTE)
set(PT_BUNDLE lib/posttrain)
set(_rp "\$ORIGIN/../${PT_BUNDLE}/torch/lib" "\$ORIGIN/../${PT_BUNDLE}/deps")
foreach(_sub cu13 cu12 nccl cudnn cusparselt nvshmem)
  list(APPEND _rp "\$ORIGIN/../${PT_BUNDLE}/nvidia/${_sub}/lib")
endforeach()
# DT_RPATH (not RUNPATH) so the directories also serve the libraries the binary loads.
set_target_properties(posttrain PROPERTIES INSTALL_RPATH "${_rp}")
target_link_options(posttrain PRIVATE "LINKER:--disable-new-dtags")

install(TARGETS posttrain RUNTIME DESTINATION bin)
install(DIRECTORY "${PT_TORCH_LIB_DIR}/" DESTINATION ${PT_BUNDLE}/torch/lib FILES_MATCHING PATTERN "*.so*")
if(IS_DIRECTORY "${PT_SITE_PACKAGES}/nvidia")
  install(DIRECTORY "${PT_SITE_PACKAGES}/nvidia/" DESTINATION ${PT_BUNDLE}/nvidia
          FILES_MATCHING PATTERN "*.so*" PATTERN "include" EXCLUDE PATTERN "__pycache__" EXCLUDE)
endif()
install(CODE "set(PT_SITE_PACKAGES \"${PT_SITE_PACKAGES}\")")
install(CODE [[
  file(GET_RUNTIME_DEPENDENCIES
    EXECUTABLES "$<TARGET_FILE:posttrain>"
    RESOLVED_DEPENDENCIES_VAR _deps
    UNRESOLVED_DEPENDENCIES_VAR _missing
    # The node's C library and driver, and the cluster's MPI (with its own runtime) stay outside.
    PRE_EXCLUDE_REGEXES "^ld-linux" "^libc\\.so" "^libm\\.so" "^libdl\\.so" "^librt\\.so" "^libpthread\\.so"
                        "^libutil\\.so" "^libresolv\\.so" "^libcuda\\.so" "^libnvidia-" "^libmpi" "^libopen-"
                        "^libhwloc" "^libevent" "^libpmix" "^libfabric" "^libucs" "^libucp" "^libucm" "^libuct"
                        "^libmunge" "^libibverbs" "^librdmacm" "^libnl-"
    # Torch and CUDA libraries are copied above in their own layout.
    POST_EXCLUDE_REGEXES "/site-packages/" "^/usr/local/cuda")
  foreach(_d IN LISTS _deps)
    file(INSTALL "${_d}" DESTINATION "${CMAKE_INSTALL_PREFIX}/lib/posttrain/deps" FOLLOW_SYMLINK_CHAIN)
  endforeach()
  foreach(_m IN LISTS _missing)
    message(WARNING "posttrain install: ${_m} not found; the installed binary needs it on the node")
  endforeach()
]])
install(DIRECTORY configs examples DESTINATION share/posttrain)
install(FILES schemas/recipe.schema.json DESTINATION share/posttrain)
install(PROGRAMS scripts/slurm/posttrain.sbatch scripts/slurm/one-node.sbatch scripts/slurm/multi-node.sbatch
        scripts/slurm/launch.sh
        DESTINATION share/posttrain/slurm)
