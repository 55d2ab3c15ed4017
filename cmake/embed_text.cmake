# cmake -DIN=<text file> -DOUT=<.cpp> -DHEADER=<include> -DNAMESPACE=<ns> -DNAME=<var> -P embed_text.cmake
# Writes a C++ source defining `const std::string_view NAME` (declared in HEADER) that holds the
# bytes of IN, so a data file is compiled into the binary with no file read at run time.
file(READ "${IN}" hex HEX)
string(LENGTH "${hex}" hex_len)
math(EXPR size "${hex_len} / 2")
string(REGEX REPLACE "([0-9a-f][0-9a-f])" "'\\\\x\\1'," bytes "${hex}")
file(WRITE "${OUT}.tmp"
"// Generated from ${IN} by cmake/embed_text.cmake: do not edit.
#include \"${HEADER}\"

namespace ${NAMESPACE} {

namespace {
constexpr char kBytes[] = {
    ${bytes}'\\0'};
}  // namespace

const std::string_view ${NAME}{kBytes, ${size}};

}  // namespace ${NAMESPACE}
")
file(COPY_FILE "${OUT}.tmp" "${OUT}" ONLY_IF_DIFFERENT)
file(REMOVE "${OUT}.tmp")
