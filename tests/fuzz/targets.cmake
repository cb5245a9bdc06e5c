# targets.cmake — the fuzz targets, shared by tests/fuzz/CMakeLists.txt
# (libFuzzer builds, `make fuzz`) and tests/fuzz/smoke.cmake (the replay
# smoke in `make test`). One target per parser; a target is built only once
# the modules it drives exist, so the tree builds while modules land.
#
#   TAAP_FUZZ_REQUIRES_<t>  files (relative to the source tree) that must exist
#   TAAP_FUZZ_SERVE_<t>     ON when the target links the emulator
#   TAAP_FUZZ_SMOKE_<t>     mutations the smoke test runs (seconds under ASan)
set(TAAP_FUZZ_TARGETS fuzz_verify fuzz_claims fuzz_key_public fuzz_key_private fuzz_postman
    fuzz_csv fuzz_vars fuzz_serve)

set(TAAP_FUZZ_REQUIRES_fuzz_verify src/core/key.c src/core/pop_verify.c src/core/jws.c)
set(TAAP_FUZZ_REQUIRES_fuzz_claims src/core/claims.c src/core/jws.c)
set(TAAP_FUZZ_REQUIRES_fuzz_key_public src/core/key.c)
set(TAAP_FUZZ_REQUIRES_fuzz_key_private src/core/key.c)
set(TAAP_FUZZ_REQUIRES_fuzz_postman include/taap/postman.h src/postman/collection.c)
set(TAAP_FUZZ_REQUIRES_fuzz_csv include/taap/postman.h)
set(TAAP_FUZZ_REQUIRES_fuzz_vars include/taap/postman.h src/postman/vars.c)
set(TAAP_FUZZ_REQUIRES_fuzz_serve src/serve/taap_serve.h)
set(TAAP_FUZZ_SERVE_fuzz_serve ON)

set(TAAP_FUZZ_SMOKE_fuzz_verify 1500)
set(TAAP_FUZZ_SMOKE_fuzz_claims 20000)
set(TAAP_FUZZ_SMOKE_fuzz_key_public 3000)
set(TAAP_FUZZ_SMOKE_fuzz_key_private 1500)
set(TAAP_FUZZ_SMOKE_fuzz_postman 3000)
set(TAAP_FUZZ_SMOKE_fuzz_csv 4000)
set(TAAP_FUZZ_SMOKE_fuzz_vars 1500)
set(TAAP_FUZZ_SMOKE_fuzz_serve 2000)

# taap_fuzz_enabled(<target> <out-var>): TRUE when the target's source and
# every module it needs are in the tree.
function(taap_fuzz_enabled target out)
  set(ok TRUE)
  if(NOT EXISTS ${CMAKE_SOURCE_DIR}/tests/fuzz/${target}.c)
    set(ok FALSE)
  endif()
  foreach(f ${TAAP_FUZZ_REQUIRES_${target}})
    if(NOT EXISTS ${CMAKE_SOURCE_DIR}/${f})
      set(ok FALSE)
    endif()
  endforeach()
  set(${out} ${ok} PARENT_SCOPE)
endfunction()
