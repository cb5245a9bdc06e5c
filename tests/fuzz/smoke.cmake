# smoke.cmake — included at the end of tests/CMakeLists.txt: every fuzz
# target, compiled with the build's own compiler and flags (gcc; ASan in
# build-asan) against smoke_main.c instead of libFuzzer, replays its seed
# corpus plus a fixed number of seeded mutations. Seconds per target.
include(${CMAKE_SOURCE_DIR}/tests/fuzz/targets.cmake)

set(FUZZ_SMOKE_CRASH_DIR ${CMAKE_BINARY_DIR}/fuzz-smoke-crashes)
file(MAKE_DIRECTORY ${FUZZ_SMOKE_CRASH_DIR})

foreach(t ${TAAP_FUZZ_TARGETS})
  taap_fuzz_enabled(${t} ok)
  if(NOT ok)
    continue()
  endif()
  string(REPLACE "fuzz_" "fuzz_smoke_" sname ${t})
  string(REPLACE "fuzz_" "" corpus ${t})
  add_executable(${sname} ${CMAKE_SOURCE_DIR}/tests/fuzz/${t}.c
    ${CMAKE_SOURCE_DIR}/tests/fuzz/smoke_main.c)
  target_include_directories(${sname} PRIVATE ${TAAP_LIB_PRIVATE_INCLUDE}
    ${CMAKE_SOURCE_DIR}/tests/fuzz)
  if(TAAP_FUZZ_SERVE_${t})
    target_link_libraries(${sname} PRIVATE taap_serve taap_everything)
  else()
    target_link_libraries(${sname} PRIVATE taap_everything)
  endif()
  add_test(NAME ${sname} COMMAND ${sname} ${CMAKE_SOURCE_DIR}/tests/fuzz/corpus/${corpus}
    ${TAAP_FUZZ_SMOKE_${t}})
  set_tests_properties(${sname} PROPERTIES
    ENVIRONMENT "${TAAP_TEST_ENV};TAAP_FUZZ_CRASH_DIR=${FUZZ_SMOKE_CRASH_DIR}" TIMEOUT 120)
endforeach()

# `make soak` (600 s): tests/soak/soak.c against the real emulator. In ctest,
# soak_smoke: 30 s with the clock 30x (a replay window every ~2.3 s, the
# RSS baseline at 5 s), asserting zero errors and RSS within 2 MiB of the
# baseline. Not under sanitizers: ASan's quarantine holds freed memory by
# design, so RSS measures ASan there, not taap.
add_executable(taap_soak ${CMAKE_SOURCE_DIR}/tests/soak/soak.c ${TEST_SUPPORT})
target_include_directories(taap_soak PRIVATE ${CMAKE_SOURCE_DIR}/tests/support)
target_link_libraries(taap_soak PRIVATE taap_everything PkgConfig::CMOCKA)
add_dependencies(taap_soak taap)
target_compile_definitions(taap_soak PRIVATE
  "TAAP_SOAK_BIN=\"$<TARGET_FILE:taap>\"" "TAAP_SOAK_SHARED=\"${TAAP_SHARED_DIR}\"")
if(NOT TAAP_SANITIZE)
  add_test(NAME soak_smoke COMMAND taap_soak 30 4 30)
  set_tests_properties(soak_smoke PROPERTIES ENVIRONMENT "${TAAP_TEST_ENV}" TIMEOUT 120)
endif()
