# Layering that the compiler enforces. Every library lives in one top-level folder and
# includes headers as "folder/file.hpp". A library's include path holds only its own
# folder and the folders of the libraries it links: each folder gets an include root,
# build/include_roots/FOLDER, that holds a single link FOLDER -> the source folder, and
# linking a library (PUBLIC) passes its root on. So an include of a folder the library
# may not use (serving/ including runtime/, say) fails to compile.

# conveyor_library(NAME FOLDER [SOURCES...]): a static library for FOLDER with its root.
function(conveyor_library name folder)
  add_library(${name} ${ARGN})
  conveyor_include_root(${name} ${folder})
  conveyor_warnings(${name})
endfunction()

# conveyor_include_root(TARGET FOLDER [INTERFACE|PUBLIC|PRIVATE]): lets TARGET (and, for
# PUBLIC, whatever links it) include "FOLDER/...".
function(conveyor_include_root target folder)
  set(scope PUBLIC)
  if(ARGC GREATER 2)
    set(scope ${ARGV2})
  endif()
  set(root ${PROJECT_BINARY_DIR}/include_roots/${folder})
  if(NOT EXISTS ${root}/${folder})
    get_filename_component(parent ${root}/${folder} DIRECTORY)
    file(MAKE_DIRECTORY ${parent})
    file(CREATE_LINK ${PROJECT_SOURCE_DIR}/${folder} ${root}/${folder} SYMBOLIC)
  endif()
  target_include_directories(${target} ${scope} ${root})
endfunction()
