# Generates a C++ source that embeds every catalog/*.json file, and the OpenAPI documents
# under catalog/openapi/ that definitions name in tools.openapi, as string literals.
# Invoked at build time: cmake -DCATALOG_DIR=... -DOUTPUT=... -P embed_catalog.cmake
file(GLOB files "${CATALOG_DIR}/*.json")
file(GLOB openapi_files "${CATALOG_DIR}/openapi/*.json" "${CATALOG_DIR}/openapi/*.yaml"
     "${CATALOG_DIR}/openapi/*.yml")
list(APPEND files ${openapi_files})
list(SORT files)
set(body "// Generated from catalog/*.json by cmake/embed_catalog.cmake. Do not edit.\n")
string(APPEND body "#include \"core/catalog.h\"\n\nnamespace tr {\n\nconst EmbeddedFile kEmbeddedCatalog[] = {\n")
foreach(f ${files})
  file(RELATIVE_PATH name "${CATALOG_DIR}" "${f}")
  file(READ "${f}" contents HEX)
  # Emit as a byte array inside a string via escaped hex, immune to any content.
  string(REGEX REPLACE "([0-9a-f][0-9a-f])" "\\\\x\\1" escaped "${contents}")
  string(APPEND body "    {\"catalog/${name}\", \"${escaped}\"},\n")
endforeach()
string(APPEND body "    {nullptr, nullptr},\n};\n\n}  // namespace tr\n")
file(WRITE "${OUTPUT}.tmp" "${body}")
execute_process(COMMAND ${CMAKE_COMMAND} -E copy_if_different "${OUTPUT}.tmp" "${OUTPUT}")
