/* s3_ini.c — see s3_ini.h. The format is the AWS CLI's: "[section]"
 * headers, "key = value" lines, '#' and ';' comments. */
#include "remote/s3/s3_ini.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *env_get(const char *name)
{
	const char *v = getenv(name);

	return v && *v ? v : NULL;
}

static char *trim(char *s)
{
	char *e;

	while (*s == ' ' || *s == '\t')
		s++;
	e = s + strlen(s);
	while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r' || e[-1] == '\n'))
		*--e = '\0';
	return s;
}

char *s3ini_path(S3IniFile which)
{
	const char *v = env_get(which == S3INI_CREDENTIALS ? "AWS_SHARED_CREDENTIALS_FILE" : "AWS_CONFIG_FILE");
	const char *home;
	char *p;

	if (v)
		return strdup(v);
	home = env_get("HOME");
	if (!home)
		return NULL;
	if (asprintf(&p, "%s/.aws/%s", home, which == S3INI_CREDENTIALS ? "credentials" : "config") < 0)
		return NULL;
	return p;
}

/* section_is — whether header text names profile in this file. */
static int section_is(S3IniFile which, char *header, const char *profile)
{
	if (which == S3INI_CREDENTIALS || strcmp(profile, "default") == 0)
		return strcmp(header, profile) == 0;
	/* The config file writes "[profile NAME]", with any blanks between. */
	if (strncmp(header, "profile", 7) != 0 || (header[7] != ' ' && header[7] != '\t'))
		return 0;
	return strcmp(trim(header + 7), profile) == 0;
}

/* scan — look key up (or, with key NULL, only the section). Same returns
 * as s3ini_lookup. */
static int scan(S3IniFile which, const char *profile, const char *key, char **out)
{
	char *path = s3ini_path(which), *line = NULL, *p, *eq;
	size_t cap = 0;
	int in_section = 0, rc = 1;
	FILE *f;

	if (!path)
		return env_get("HOME") ? -ENOMEM : 1;
	f = fopen(path, "re");
	free(path);
	if (!f)
		return 1;
	while (getline(&line, &cap, f) >= 0) {
		p = trim(line);
		if (*p == '#' || *p == ';' || !*p)
			continue;
		if (*p == '[') {
			char *end = strchr(p, ']');

			if (end)
				*end = '\0';
			in_section = section_is(which, trim(p + 1), profile);
			if (in_section && !key) {
				rc = 0;
				break;
			}
			continue;
		}
		if (!in_section || !key || !(eq = strchr(p, '=')))
			continue;
		*eq = '\0';
		if (strcmp(trim(p), key) != 0)
			continue;
		*out = strdup(trim(eq + 1));
		rc = *out ? 0 : -ENOMEM;
		break;
	}
	if (line)
		explicit_bzero(line, cap);
	free(line);
	fclose(f);
	return rc;
}

int s3ini_lookup(S3IniFile which, const char *profile, const char *key, char **out)
{
	return scan(which, profile, key, out);
}

int s3ini_has_profile(const char *profile)
{
	return scan(S3INI_CREDENTIALS, profile, NULL, NULL) == 0 ||
	       scan(S3INI_CONFIG, profile, NULL, NULL) == 0;
}
