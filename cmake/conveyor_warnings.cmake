# Warnings for the project's own targets: conveyor_warnings(target)
function(conveyor_warnings target)
  # nvcc passes host-compiler warnings on through -Xcompiler (CUDA sources).
  target_compile_options(${target} PRIVATE
    $<$<COMPILE_LANGUAGE:CXX>:-Wall -Wextra -Wpedantic -Wno-unused-parameter>
    $<$<COMPILE_LANGUAGE:CUDA>:-Xcompiler=-Wall,-Wextra,-Wno-unused-parameter>)
endfunction()
