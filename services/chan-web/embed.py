#!/usr/bin/env python3
"""Embeds a file in C++ as `extern const std::string_view <name>` (build step of chan-web)."""
import sys

src, out, name = sys.argv[1], sys.argv[2], sys.argv[3]
data = open(src, "rb").read()
with open(out, "w") as f:
    f.write("// Generated from %s by embed.py — do not edit.\n#include <string_view>\n" % src.split("/")[-1])
    f.write("namespace weft::chan::web {\nstatic const unsigned char %s_bytes[] = {\n" % name)
    for i in range(0, len(data), 20):
        f.write(",".join(str(b) for b in data[i:i + 20]) + ",\n")
    f.write("0};\nextern const std::string_view %s(reinterpret_cast<const char*>(%s_bytes), %d);\n}\n"
            % (name, name, len(data)))
