/* s3_ini.h — the AWS shared files: ~/.aws/credentials and ~/.aws/config.
 *
 * Owns: finding the two files (AWS_SHARED_CREDENTIALS_FILE,
 * AWS_CONFIG_FILE, else ~/.aws/) and looking a key up in a profile's
 * section, with the sections' two spellings: "[NAME]" in the credentials
 * file, "[profile NAME]" (or "[default]") in the config file.
 * Never: interprets a value (s3_cred.c and s3_config.c do), or fails
 * because a file is missing: both files are optional.
 *
 * Thread safety: no state; every call reads the file anew.
 */
#ifndef STRATA_REMOTE_S3_INI_H
#define STRATA_REMOTE_S3_INI_H

/* Which of the two files. */
typedef enum S3IniFile { S3INI_CREDENTIALS, S3INI_CONFIG } S3IniFile;

/* s3ini_path — the file's path, malloc'ed; NULL when neither its
 * variable nor HOME is set, or out of memory. */
char *s3ini_path(S3IniFile which);

/* s3ini_lookup — key's value in profile's section of the file. Returns 0
 * with *out malloc'ed (the caller frees it), 1 when the file, the section
 * or the key is absent, -ENOMEM. Values are trimmed of blanks. */
int s3ini_lookup(S3IniFile which, const char *profile, const char *key, char **out);

/* s3ini_has_profile — 1 when either file has a section for profile, else 0. */
int s3ini_has_profile(const char *profile);

#endif
