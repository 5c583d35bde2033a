/*
 * json: the few helpers needed to print JSON with correct escaping to a
 * stdio stream. Callers write the structure; these write values.
 */
#ifndef SG_JSON_H
#define SG_JSON_H

#include <stdio.h>

/* A JSON string for NUL-terminated s (invalid UTF-8 bytes become U+FFFD). */
void	sg_json_str(FILE *f, const char *s);
/* "key": for an object member (with a leading comma when !first). */
void	sg_json_key(FILE *f, int first, const char *key);

#endif
