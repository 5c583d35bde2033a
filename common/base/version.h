/* version: the release, shown by --version and schoolgate status, and
 * used by scripts/build-deb for the package version. */
#ifndef SG_VERSION_H
#define SG_VERSION_H

#define SG_VERSION	"0.7.0"

#endif
