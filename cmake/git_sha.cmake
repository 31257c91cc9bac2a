# Run at every build (target pt_git_sha): the commit the binary is built from, "-dirty" when tracked
# files differ from it, rewritten only when that changes, so a report's `posttrain version` names
# what was built rather than what was configured.
execute_process(COMMAND git -C ${SRC} rev-parse --short HEAD OUTPUT_VARIABLE sha OUTPUT_STRIP_TRAILING_WHITESPACE
                ERROR_QUIET)
if(sha)
  execute_process(COMMAND git -C ${SRC} status --porcelain --untracked-files=no OUTPUT_VARIABLE dirty ERROR_QUIET)
  if(dirty)
    set(sha "${sha}-dirty")
  endif()
endif()
file(WRITE ${OUT}.tmp "#pragma once\n// Generated at build time by cmake/git_sha.cmake.\n#define PT_GIT_SHA \"${sha}\"\n")
execute_process(COMMAND ${CMAKE_COMMAND} -E copy_if_different ${OUT}.tmp ${OUT})
file(REMOVE ${OUT}.tmp)
