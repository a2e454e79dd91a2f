# toolregistry_copy_usage(from to): gives library `to` the include directories, definitions
# and link libraries of `from`, so a second build of the library's sources (fuzz, TSan)
# follows the main list in CMakeLists.txt without repeating it.
function(toolregistry_copy_usage from to)
  foreach(property INCLUDE_DIRECTORIES INTERFACE_INCLUDE_DIRECTORIES COMPILE_DEFINITIONS
                   INTERFACE_COMPILE_DEFINITIONS LINK_LIBRARIES INTERFACE_LINK_LIBRARIES)
    get_target_property(value ${from} ${property})
    if(value)
      set_target_properties(${to} PROPERTIES ${property} "${value}")
    endif()
  endforeach()
endfunction()
