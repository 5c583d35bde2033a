/*
 * web_assets: the web page's files, embedded at build time by
 * scripts/embed-assets (the stylesheet built from GOV.UK Frontend's Sass
 * and its script, from npm, and our own HTML templates, CSS, script, mark
 * and manifest from daemon/web/).
 */
#ifndef GW_WEB_ASSETS_H
#define GW_WEB_ASSETS_H

struct gw_asset {
	const char		*name;	/* "/assets/app.js", "tmpl/send.html" */
	const char		*ctype;
	const unsigned char	*data;	/* NUL after the last byte */
	unsigned		 len;
	const char		*etag;	/* quoted */
};

extern const struct gw_asset gw_assets[];
extern const unsigned gw_nassets;

#endif
