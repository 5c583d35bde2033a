/*
 * web: finds embedded files and composes pages (layout, navigation,
 * page body) with the template filler from common/base/html.c.
 */
#include "front/web.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/html.h"

#define WEB_MAXVARS	40

const struct gw_asset *
gw_asset_find(const char *path)
{
	unsigned lo = 0, hi = gw_nassets;

	/* the table is sorted by name (scripts/embed-assets) */
	while (lo < hi) {
		unsigned mid = lo + (hi - lo) / 2;
		int c = strcmp(path, gw_assets[mid].name);

		if (c == 0)
			return &gw_assets[mid];
		if (c < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return NULL;
}

static char *
fill(const char *name, const char *const vars[])
{
	const struct gw_asset *a = gw_asset_find(name);
	char *buf = NULL;
	size_t len = 0;
	FILE *f;

	if (a == NULL || (f = open_memstream(&buf, &len)) == NULL)
		return NULL;
	if (sg_tmpl_fill(f, (const char *)a->data, a->len, vars) != 0) {
		fclose(f);
		free(buf);
		return NULL;
	}
	if (fclose(f) != 0) {
		free(buf);
		return NULL;
	}
	return buf;
}

char *
gw_web_render(const char *page, const char *const vars[], size_t *len)
{
	const char *all[WEB_MAXVARS + 7];
	char name[64], *main, *nav = NULL, *pager = NULL, *out = NULL;
	size_t n = 0, i;
	int signed_in = 0;
	FILE *f;

	snprintf(name, sizeof(name), "tmpl/%s.html", page);
	for (i = 0; vars[i] != NULL && n + 2 <= WEB_MAXVARS; i += 2) {
		all[n++] = vars[i];
		all[n++] = vars[i + 1];
		if (strcmp(vars[i], "party") == 0)
			signed_in = 1;
	}
	all[n] = NULL;
	/* the pager the lists of files share */
	if (signed_in && (pager = fill("tmpl/pager.html", all)) == NULL)
		return NULL;
	all[n++] = "pager";
	all[n++] = pager ? pager : "";
	all[n] = NULL;
	main = fill(name, all);
	n -= 2;
	all[n] = NULL;
	free(pager);
	if (main == NULL)
		return NULL;
	if (signed_in && (nav = fill("tmpl/nav.html", all)) == NULL) {
		free(main);
		return NULL;
	}
	all[n++] = "main";
	all[n++] = main;
	all[n++] = "nav";
	all[n++] = nav ? nav : "";
	all[n] = NULL;
	if ((f = open_memstream(&out, len)) != NULL) {
		const struct gw_asset *l = gw_asset_find("tmpl/layout.html");

		if (l == NULL || sg_tmpl_fill(f, (const char *)l->data, l->len,
		    all) != 0) {
			fclose(f);
			free(out);
			out = NULL;
		} else if (fclose(f) != 0) {
			free(out);
			out = NULL;
		}
	}
	free(main);
	free(nav);
	return out;
}
