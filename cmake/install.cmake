# install.cmake — what `make install` writes (included by CMakeLists.txt):
#   bin/taap, libexec/taap/taap-full, lib/libtaap*.{so,a}, include/taap/,
#   lib/pkgconfig/taap*.pc, lib/cmake/taap/ (find_package(taap CONFIG)),
#   share/taap/sandbox/ (taap run's script host), share/man/man1/taap.1,
#   bash, zsh and fish completions (generated from the command's help).
# Paths are GNUInstallDirs' relative ones, so `cmake --install --prefix P`
# and DESTDIR move everything together; the .pc files are written at install
# time for the prefix actually used.
include(CMakePackageConfigHelpers)
set(TAAP_CMAKE_DIR ${CMAKE_INSTALL_LIBDIR}/cmake/taap)

# taap_install_library(TARGET NAME EXPORT_NAME DESCRIPTION REQUIRES REQUIRES_PRIVATE)
# installs lib<NAME>.so (exported as taap::EXPORT_NAME) and lib<NAME>.a, and
# writes <NAME>.pc. REQUIRES are the taap libraries below it (pkg-config
# names, space-separated), REQUIRES_PRIVATE the system libraries it links.
function(taap_install_library target name export_name description requires requires_private)
  set_target_properties(${target}_shared PROPERTIES EXPORT_NAME ${export_name})
  install(TARGETS ${target}_shared EXPORT taapTargets
    LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
    INCLUDES DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
  install(TARGETS ${target}_static ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR})

  # First pass now (everything but the prefix), second at install time.
  set(TAAP_PC_PREFIX "@TAAP_PC_PREFIX@")
  if(IS_ABSOLUTE "${CMAKE_INSTALL_LIBDIR}")
    set(TAAP_PC_LIBDIR "${CMAKE_INSTALL_LIBDIR}")
  else()
    set(TAAP_PC_LIBDIR "\${prefix}/${CMAKE_INSTALL_LIBDIR}")
  endif()
  if(IS_ABSOLUTE "${CMAKE_INSTALL_INCLUDEDIR}")
    set(TAAP_PC_INCLUDEDIR "${CMAKE_INSTALL_INCLUDEDIR}")
  else()
    set(TAAP_PC_INCLUDEDIR "\${prefix}/${CMAKE_INSTALL_INCLUDEDIR}")
  endif()
  set(TAAP_PC_NAME ${name})
  set(TAAP_PC_DESCRIPTION "${description}")
  set(TAAP_PC_REQUIRES "${requires}")
  set(TAAP_PC_REQUIRES_PRIVATE "${requires_private}")
  set(pc_in ${CMAKE_BINARY_DIR}/pkgconfig/${name}.pc.in)
  configure_file(${CMAKE_SOURCE_DIR}/cmake/taap.pc.in ${pc_in} @ONLY)
  install(CODE "
    set(TAAP_PC_PREFIX \"\${CMAKE_INSTALL_PREFIX}\")
    configure_file(\"${pc_in}\" \"${CMAKE_BINARY_DIR}/pkgconfig/${name}.pc\" @ONLY)
    file(INSTALL DESTINATION \"\${CMAKE_INSTALL_PREFIX}/${CMAKE_INSTALL_LIBDIR}/pkgconfig\"
         TYPE FILE FILES \"${CMAKE_BINARY_DIR}/pkgconfig/${name}.pc\")")
endfunction()

taap_install_library(taap taap taap
  "T-Mobile API Access Protocol (TAAP): keys, PoP tokens (build and verify), JWS/RS256"
  "" "libcrypto jansson")
taap_install_library(taap_client taap-client client
  "TAAP client: HTTP transport, OAuth 2.0 client, token cache, API calls"
  "taap" "libcrypto jansson libcurl")
taap_install_library(taap_postman taap-postman postman
  "TAAP Postman runner: collections, environments, reports"
  "taap-client taap" "libcrypto jansson libcurl")
taap_install_library(taap_replay_sqlite taap-replay-sqlite replay_sqlite
  "TAAP replay cache shared through an SQLite file"
  "taap" "libcrypto sqlite3")
if(TARGET taap_replay_redis_shared)
  taap_install_library(taap_replay_redis taap-replay-redis replay_redis
    "TAAP replay cache shared by every node through Redis"
    "taap" "libcrypto hiredis")
endif()

install(EXPORT taapTargets NAMESPACE taap:: DESTINATION ${TAAP_CMAKE_DIR})
configure_package_config_file(cmake/taapConfig.cmake.in ${CMAKE_BINARY_DIR}/taapConfig.cmake
  INSTALL_DESTINATION ${TAAP_CMAKE_DIR})
write_basic_package_version_file(${CMAKE_BINARY_DIR}/taapConfigVersion.cmake
  VERSION ${PROJECT_VERSION} COMPATIBILITY SameMajorVersion)
install(FILES ${CMAKE_BINARY_DIR}/taapConfig.cmake ${CMAKE_BINARY_DIR}/taapConfigVersion.cmake
  DESTINATION ${TAAP_CMAKE_DIR})

install(TARGETS taap RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
install(TARGETS taap-full RUNTIME DESTINATION ${CMAKE_INSTALL_LIBEXECDIR}/taap)
install(DIRECTORY include/taap DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
# The script sandbox of `taap run` (scripts/deps.sh fills node_modules).
install(FILES src/postman/sandbox/host.js src/postman/sandbox/package.json
  src/postman/sandbox/package-lock.json DESTINATION ${CMAKE_INSTALL_DATADIR}/taap/sandbox)
install(DIRECTORY src/postman/sandbox/node_modules DESTINATION ${CMAKE_INSTALL_DATADIR}/taap/sandbox
  OPTIONAL)
install(FILES docs/taap.1 DESTINATION ${CMAKE_INSTALL_MANDIR}/man1 OPTIONAL)

# Shell completions, generated from the command table and each command's help
# by scripts/gen-completions.sh with the taap just built.
set(TAAP_COMPLETIONS ${CMAKE_BINARY_DIR}/completions/taap.bash
  ${CMAKE_BINARY_DIR}/completions/_taap ${CMAKE_BINARY_DIR}/completions/taap.fish)
add_custom_command(OUTPUT ${TAAP_COMPLETIONS}
  COMMAND sh ${CMAKE_SOURCE_DIR}/scripts/gen-completions.sh $<TARGET_FILE:taap>
          ${CMAKE_BINARY_DIR}/completions
  DEPENDS taap taap-full ${CMAKE_SOURCE_DIR}/scripts/gen-completions.sh
  COMMENT "Generating bash, zsh and fish completions from taap's help")
add_custom_target(taap_completions ALL DEPENDS ${TAAP_COMPLETIONS})
install(FILES ${CMAKE_BINARY_DIR}/completions/taap.bash
  DESTINATION ${CMAKE_INSTALL_DATADIR}/bash-completion/completions RENAME taap)
install(FILES ${CMAKE_BINARY_DIR}/completions/_taap
  DESTINATION ${CMAKE_INSTALL_DATADIR}/zsh/vendor-completions)
install(FILES ${CMAKE_BINARY_DIR}/completions/taap.fish
  DESTINATION ${CMAKE_INSTALL_DATADIR}/fish/vendor_completions.d)

# `make uninstall` (also the Makefile's): the files of the last install.
add_custom_target(uninstall
  COMMAND ${CMAKE_COMMAND} -DMANIFEST=${CMAKE_BINARY_DIR}/install_manifest.txt
          -P ${CMAKE_SOURCE_DIR}/cmake/uninstall.cmake
  COMMENT "Removing what the last install from this tree wrote")

# `make deb`: one Debian package with everything `make install` writes, for
# /usr (CPack DEB). Depends is written here (dpkg-shlibdeps would run `file`
# over every file of the script sandbox's node_modules: minutes); the
# ldconfig trigger registers the libraries.
set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME taap)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_CONTACT "taap maintainers <taap-maintainers@localhost>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY
  "T-Mobile API Access Protocol (TAAP): C libraries, the taap command and a local emulator")
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_PACKAGE_DIRECTORY ${CMAKE_BINARY_DIR}/packages)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION devel)
set(CPACK_DEBIAN_PACKAGE_DEPENDS "libc6 (>= 2.34), libssl3 (>= 3.0), libjansson4 (>= 2.14), \
libcurl4 (>= 7.88), libmicrohttpd12 (>= 0.9.75), libsqlite3-0 (>= 3.40)")
set(CPACK_DEBIAN_PACKAGE_RECOMMENDS "nodejs")
file(WRITE ${CMAKE_BINARY_DIR}/deb/triggers "activate-noawait ldconfig\n")
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA ${CMAKE_BINARY_DIR}/deb/triggers)
include(CPack)
