# uninstall.cmake — `make uninstall`: remove every file the last install from
# this build tree wrote (CMake's install_manifest.txt; give the same DESTDIR
# as the install: the manifest holds the paths without it), then
# the directories of taap's own that are left empty (include/taap,
# lib/cmake/taap, libexec/taap, share/taap/…). Shared ones (bin, lib…) stay.
#   cmake -DMANIFEST=BUILD/install_manifest.txt -P cmake/uninstall.cmake
if(NOT MANIFEST OR NOT EXISTS "${MANIFEST}")
  message(FATAL_ERROR "uninstall: no install manifest at '${MANIFEST}': nothing was installed "
                      "from this build tree (run make install first, with the same BUILD)")
endif()
file(STRINGS "${MANIFEST}" installed)
set(dirs "")
set(destdir "$ENV{DESTDIR}")
foreach(f IN LISTS installed)
  string(FIND "${f}" "${destdir}" at)
  if(destdir AND NOT at EQUAL 0)
    set(f "${destdir}${f}")
  endif()
  if(EXISTS "${f}" OR IS_SYMLINK "${f}")
    file(REMOVE "${f}")
    message(STATUS "Removed ${f}")
  endif()
  get_filename_component(d "${f}" DIRECTORY)
  list(APPEND dirs "${d}")
endforeach()
# Then the directories left empty, deepest first, inside a directory of
# taap's own (a path component named taap: include/taap, share/taap/…).
list(REMOVE_DUPLICATES dirs)
list(SORT dirs ORDER DESCENDING)
foreach(d IN LISTS dirs)
  while(d MATCHES "/taap(/|$)" AND IS_DIRECTORY "${d}")
    file(GLOB left "${d}/*" "${d}/.*")
    if(left)
      break()
    endif()
    file(REMOVE_RECURSE "${d}")
    message(STATUS "Removed ${d}/")
    get_filename_component(name "${d}" NAME)
    if(name STREQUAL "taap")
      break()
    endif()
    get_filename_component(d "${d}" DIRECTORY)
  endwhile()
endforeach()
