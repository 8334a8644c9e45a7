# Warnings for the project's own targets: conveyor_warnings(target)
function(conveyor_warnings target)
  target_compile_options(${target} PRIVATE -Wall -Wextra -Wpedantic -Wno-unused-parameter)
endfunction()
