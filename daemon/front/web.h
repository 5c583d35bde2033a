/*
 * web: the pages for school staff, built from the embedded templates.
 * The pages hold no data of their own: the script in them reads and
 * changes everything through the /v1 API with the signed-in session, so
 * the page can do nothing the API would not let the party do.
 */
#ifndef GW_WEB_H
#define GW_WEB_H

#include <stddef.h>

#include "front/web_assets.h"

/* A file the browser may fetch ("/assets/..."), or NULL. */
const struct gw_asset *gw_asset_find(const char *path);

/*
 * A page: tmpl/<page>.html filled with vars (name, value, ..., NULL) and
 * set in tmpl/layout.html; with the signed-in navigation when vars has
 * "party". Returns the HTML (malloc'd, *len bytes), or NULL.
 */
char	*gw_web_render(const char *page, const char *const vars[],
	    size_t *len);

#endif
