/*
 * html: the small pieces of HTTP a web page needs that llhttp does
 * not give: form fields (application/x-www-form-urlencoded), cookies,
 * HTML escaping and a template filler for the pages the daemon serves.
 *
 * Nothing here allocates except into the caller's stream, and nothing
 * here keeps state.
 */
#ifndef SG_HTML_H
#define SG_HTML_H

#include <stddef.h>
#include <stdio.h>

/*
 * The value of field name in a urlencoded body (len bytes), decoded
 * ('+' is a space, %XX a byte) into out (cap bytes, NUL-terminated).
 * Returns the value's length, -1 when the field is absent, -2 when it is
 * malformed (a bad escape, a NUL byte, repeated) or does not fit.
 */
long	sg_form_field(const char *body, size_t len, const char *name,
	    char *out, size_t cap);

/*
 * The value of cookie name in a Cookie header ("a=1; b=2"), copied into
 * out (cap bytes). Returns its length, or -1 when absent or too long.
 */
long	sg_cookie_get(const char *header, const char *name, char *out,
	    size_t cap);

/* s with & < > " ' escaped, for text and attribute values. */
void	sg_html_escape(FILE *, const char *s, size_t len);

/*
 * Fills a template: "{{name}}" is replaced by the value of name, HTML
 * escaped; "{{{name}}}" by the value as it is (for fragments the daemon
 * itself composed). "{{#name}}...{{/name}}" is the part between, filled
 * the same way, when name has a value that is not empty, and nothing
 * otherwise (so the HTML stays in the template and the daemon only says
 * which parts to show). vars is name, value, name, value, ..., NULL. A
 * name with no value is replaced by nothing. Returns 0, or -1 when the
 * template has an unterminated placeholder or section.
 */
int	sg_tmpl_fill(FILE *, const char *tmpl, size_t len,
	    const char *const vars[]);

#endif
