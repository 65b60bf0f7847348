/* keyfile.c — see keyfile.h. FORMAT.md "Key file". */
#include "store/keyfile.h"

#include <errno.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

/* Additional data binding the wrapped key to its purpose and version. */
static const uint8_t WRAP_AD[] = "strata key v1";
#define MAX_WRAPPED 256

static void self_identity(KeyFileInfo *info)
{
	struct passwd *pw = getpwuid(getuid());

	if (gethostname(info->host, sizeof info->host) != 0)
		strcpy(info->host, "unknown");
	info->host[sizeof info->host - 1] = '\0';
	snprintf(info->user, sizeof info->user, "%s", pw && pw->pw_name ? pw->pw_name : "unknown");
}

int keyfile_create(const uint8_t master[CODEC_KEY_LEN], const char *password, size_t password_len,
                   uint64_t opslimit, uint64_t memlimit, uint8_t **out_buf, size_t *out_len,
                   StrataErr *err)
{
	uint8_t salt[CODEC_SALT_LEN], wrap_key[CODEC_KEY_LEN], *sealed = NULL;
	size_t sealed_len = 0;
	char *salt_b64 = NULL, *data_b64 = NULL, *text = NULL;
	KeyFileInfo info = {0};
	json_t *o = NULL;
	int rc;

	if (!opslimit)
		opslimit = codec_pwhash_default_ops();
	if (!memlimit)
		memlimit = codec_pwhash_default_mem();
	codec_random(salt, sizeof salt);
	rc = codec_pwhash(wrap_key, sizeof wrap_key, password, password_len, salt, opslimit, memlimit);
	if (rc) {
		strata_err_set(err, rc, "Argon2id failed (opslimit %llu, memlimit %llu bytes): %s",
		               (unsigned long long)opslimit, (unsigned long long)memlimit, strata_strerror(rc));
		goto out;
	}
	rc = codec_seal_with(wrap_key, WRAP_AD, sizeof WRAP_AD - 1, master, CODEC_KEY_LEN,
	                     &sealed, &sealed_len);
	if (rc)
		goto out;
	salt_b64 = codec_b64(salt, sizeof salt);
	data_b64 = codec_b64(sealed, sealed_len);
	self_identity(&info);
	o = json_pack("{s:i, s:s, s:I, s:I, s:s, s:s, s:s, s:s, s:I}",
	              "version", KEYFILE_VERSION, "kdf", "argon2id13",
	              "opslimit", (json_int_t)opslimit, "memlimit", (json_int_t)memlimit,
	              "salt", salt_b64 ? salt_b64 : "", "data", data_b64 ? data_b64 : "",
	              "host", info.host, "user", info.user, "created", (json_int_t)time(NULL));
	text = o && salt_b64 && data_b64 ? json_dumps(o, JSON_INDENT(2) | JSON_SORT_KEYS) : NULL;
	if (!text) {
		rc = strata_err_set(err, -ENOMEM, "cannot encode key file: out of memory");
		goto out;
	}
	*out_buf = (uint8_t *)text;
	*out_len = strlen(text);
	text = NULL;
out:
	codec_wipe(wrap_key, sizeof wrap_key);
	free(sealed);
	free(salt_b64);
	free(data_b64);
	free(text);
	json_decref(o);
	return rc;
}

static int parse(const uint8_t *buf, size_t len, json_t **out, KeyFileInfo *info, StrataErr *err)
{
	json_error_t jerr;
	json_t *o = json_loadb((const char *)buf, len, 0, &jerr);
	json_int_t version = 0, ops = 0, mem = 0, created = 0;
	const char *kdf = NULL, *host = "", *user = "";

	if (!o || !json_is_object(o)) {
		json_decref(o);
		return strata_err_set(err, STRATA_EFORMAT, "not a JSON key file (%s)", jerr.text);
	}
	if (json_unpack(o, "{s:I, s:s, s:I, s:I, s?s, s?s, s?I}", "version", &version, "kdf", &kdf,
	                "opslimit", &ops, "memlimit", &mem, "host", &host, "user", &user,
	                "created", &created) != 0) {
		json_decref(o);
		return strata_err_set(err, STRATA_EFORMAT, "key file lacks required fields");
	}
	if (version > KEYFILE_VERSION) {
		json_decref(o);
		return strata_err_set(err, STRATA_EVERSION, "key file version %lld is newer than this strata knows (%d)",
		                      (long long)version, KEYFILE_VERSION);
	}
	if (version < 1 || strcmp(kdf, "argon2id13") != 0 || ops <= 0 || mem <= 0) {
		json_decref(o);
		return strata_err_set(err, STRATA_EFORMAT, "key file has an unknown KDF or bad parameters");
	}
	memset(info, 0, sizeof *info);
	snprintf(info->host, sizeof info->host, "%s", host);
	snprintf(info->user, sizeof info->user, "%s", user);
	info->created_s = created;
	info->opslimit = (uint64_t)ops;
	info->memlimit = (uint64_t)mem;
	*out = o;
	return 0;
}

int keyfile_info(const uint8_t *buf, size_t len, KeyFileInfo *out, StrataErr *err)
{
	json_t *o = NULL;
	int rc = parse(buf, len, &o, out, err);

	json_decref(o);
	return rc;
}

int keyfile_unwrap(const uint8_t *buf, size_t len, const char *password, size_t password_len,
                   uint8_t out_master[CODEC_KEY_LEN], KeyFileInfo *info, StrataErr *err)
{
	uint8_t salt[CODEC_SALT_LEN], wrapped[MAX_WRAPPED], wrap_key[CODEC_KEY_LEN], *master = NULL;
	size_t salt_len = 0, wrapped_len = 0, master_len = 0;
	const char *salt_b64 = NULL, *data_b64 = NULL;
	KeyFileInfo tmp;
	json_t *o = NULL;
	int rc;

	rc = parse(buf, len, &o, &tmp, err);
	if (rc)
		return rc;
	if (json_unpack(o, "{s:s, s:s}", "salt", &salt_b64, "data", &data_b64) != 0 ||
	    codec_unb64(salt_b64, salt, sizeof salt, &salt_len) != 0 || salt_len != sizeof salt ||
	    codec_unb64(data_b64, wrapped, sizeof wrapped, &wrapped_len) != 0) {
		rc = strata_err_set(err, STRATA_EFORMAT, "key file salt or data field is malformed");
		goto out;
	}
	rc = codec_pwhash(wrap_key, sizeof wrap_key, password, password_len, salt,
	                  tmp.opslimit, tmp.memlimit);
	if (rc) {
		strata_err_set(err, rc == STRATA_EUSAGE ? STRATA_EFORMAT : rc,
		               "key file asks for Argon2id parameters that cannot be used (opslimit %llu, memlimit %llu)",
		               (unsigned long long)tmp.opslimit, (unsigned long long)tmp.memlimit);
		rc = err ? err->code : STRATA_EFORMAT;
		goto out;
	}
	rc = codec_open_with(wrap_key, WRAP_AD, sizeof WRAP_AD - 1, wrapped, wrapped_len,
	                     &master, &master_len);
	if (rc == STRATA_EAUTH) {
		rc = strata_err_set(err, STRATA_EPASSWORD, "wrong password");
		goto out;
	}
	if (rc) {
		strata_err_set(err, rc, "key file: %s", rc == STRATA_EFORMAT ?
		               "data field is too short to hold a wrapped key" : strata_strerror(rc));
		goto out;
	}
	if (master_len != CODEC_KEY_LEN) {
		rc = strata_err_set(err, STRATA_EFORMAT, "key file wraps a key of the wrong length");
		goto out;
	}
	memcpy(out_master, master, CODEC_KEY_LEN);
	if (info)
		*info = tmp;
out:
	if (master) {
		codec_wipe(master, master_len);
		free(master);
	}
	codec_wipe(wrap_key, sizeof wrap_key);
	json_decref(o);
	return rc;
}
