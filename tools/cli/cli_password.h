/* cli_password.h — getting a password from the user, never from argv.
 *
 * Sources, first found wins:
 *   repository password: --password-file FILE, $STRATA_PASSWORD_FILE,
 *                        $STRATA_PASSWORD, then a no-echo prompt on /dev/tty
 *   new password (key add, key passwd): --new-password-file FILE,
 *                        $STRATA_NEW_PASSWORD_FILE, then a prompt
 * A password file loses one trailing "\n". Prompts for a password that will
 * be set (init, key add/passwd) ask twice and compare.
 *
 * The buffer lives in the caller's CliPassword (no heap copies) and must be
 * wiped with cli_password_wipe once the store has used it.
 */
#ifndef STRATA_TOOLS_CLI_PASSWORD_H
#define STRATA_TOOLS_CLI_PASSWORD_H

#include <stddef.h>

#include "store/error.h"
#include "tools/cli/cli.h"

#define CLI_PASSWORD_MAX 4096

typedef struct CliPassword {
	char   buf[CLI_PASSWORD_MAX + 1];   /* +1: room to detect a too-long input */
	size_t len;
} CliPassword;

/* cli_password_get — the repository password. confirm: the prompt (if it
 * comes to that) asks twice, for init. prompt names what it is for.
 * Errors: STRATA_EUSAGE (no source and no terminal, empty, too long,
 * mismatch), -errno reading a file. err names the file. */
int cli_password_get(const Cli *cli, const char *prompt, int confirm,
                     CliPassword *out, StrataErr *err);

/* cli_password_get_new — a new password for key add / key passwd;
 * file is --new-password-file or NULL. Always confirms a prompt. */
int cli_password_get_new(const char *file, CliPassword *out, StrataErr *err);

/* cli_password_wipe — overwrite the buffer; safe on a zeroed struct. */
void cli_password_wipe(CliPassword *pw);

#endif
