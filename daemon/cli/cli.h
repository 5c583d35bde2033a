/* cli: what the schoolgate subcommands share. */
#ifndef SG_CLI_H
#define SG_CLI_H

#include <stddef.h>
#include <sys/types.h>

#define EXIT_ACCEPTED	0
#define EXIT_REJECTED	1
#define EXIT_TROUBLE	2

int	cmd_keygen(int, char **);
int	cmd_seal(int, char **);
int	cmd_open(int, char **);
int	cmd_log(int, char **);
int	cmd_store(int, char **);
int	cmd_passwd(int, char **);
int	cmd_token(int, char **);
int	cmd_status(int, char **);
int	cmd_unban(int, char **);
int	cmd_transfer(int, char **);
int	cmd_agreement(int, char **);
int	cmd_dsar(int, char **);
int	cmd_breach(int, char **);
int	cmd_receipt(int, char **);

struct sg_config;
/* Loads a configuration, printing every problem on stderr. */
struct sg_config *cli_load_config(const char *dir);

/* read(2) as an sg_src_fn on a pointer to an int fd */
ssize_t	cli_fd_src(void *, void *, size_t);

/* An output file written beside its final name and renamed into place
 * only when complete, so that a failure leaves no half file. */
struct cli_out {
	int		 fd;
	char		*path, *tmp;
	unsigned char	*buf;		/* writes are gathered to 1 MiB */
	size_t		 len;
};
/* An sg_sink_fn writing to a cli_out (buffered). */
int	cli_out_sink(void *, const void *, size_t);
int	cli_out_flush(struct cli_out *);
int	cli_out_open(struct cli_out *, const char *path); /* NULL: stdout */
int	cli_out_commit(struct cli_out *);
void	cli_out_abort(struct cli_out *);

#endif
