# Generates a C++ source defining `const char <SYMBOL>[]` with the contents of one file.
# Invoked at build time: cmake -DINPUT=... -DOUTPUT=... -DSYMBOL=... -P embed_file.cmake
file(READ "${INPUT}" contents HEX)
string(REGEX REPLACE "([0-9a-f][0-9a-f])" "\\\\x\\1" escaped "${contents}")
file(WRITE "${OUTPUT}.tmp"
  "// Generated from ${INPUT} by cmake/embed_file.cmake. Do not edit.\n"
  "namespace tr {\nextern const char ${SYMBOL}[];\nconst char ${SYMBOL}[] = \"${escaped}\";\n}  // namespace tr\n")
execute_process(COMMAND ${CMAKE_COMMAND} -E copy_if_different "${OUTPUT}.tmp" "${OUTPUT}")
