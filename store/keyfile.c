/* keyfile.c — see keyfile.h. FORMAT.md "Key file". */
#include "store/keyfile.h"
#include "store/format.h"

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
/* Additional data of the sealed host and user: this string, then the key
 * file's salt, which binds them to the file they were written in. */
static const uint8_t INFO_AD[] = "strata key info v1";
#define INFO_AD_LEN (sizeof INFO_AD - 1 + CODEC_SALT_LEN)
/* HOST_LEN (1) || HOST (<= 255) || USER_LEN (1) || USER (<= 63), sealed:
 * 24 bytes of nonce and 16 of tag more. */
#define MAX_INFO_PLAIN (1 + 255 + 1 + 63)
#define MAX_INFO (CODEC_NONCE_LEN + MAX_INFO_PLAIN + CODEC_TAG_LEN)

int keyfile_kdf_in_bounds(uint64_t opslimit, uint64_t memlimit)
{
	return opslimit >= KEYFILE_OPSLIMIT_MIN && opslimit <= KEYFILE_OPSLIMIT_MAX &&
	       memlimit >= KEYFILE_MEMLIMIT_MIN && memlimit <= KEYFILE_MEMLIMIT_MAX;
}

static void self_identity(KeyFileInfo *info)
{
	struct passwd *pw = getpwuid(getuid());

	if (gethostname(info->host, sizeof info->host) != 0)
		strcpy(info->host, "unknown");
	info->host[sizeof info->host - 1] = '\0';
	snprintf(info->user, sizeof info->user, "%s", pw && pw->pw_name ? pw->pw_name : "unknown");
}

static void info_ad(const uint8_t salt[CODEC_SALT_LEN], uint8_t ad[INFO_AD_LEN])
{
	memcpy(ad, INFO_AD, sizeof INFO_AD - 1);
	memcpy(ad + sizeof INFO_AD - 1, salt, CODEC_SALT_LEN);
}

/* The "info" field: host and user sealed under keys, base64 (malloc'ed). */
static char *info_seal(const CodecKeys *keys, const uint8_t salt[CODEC_SALT_LEN], const KeyFileInfo *who)
{
	uint8_t plain[MAX_INFO_PLAIN], ad[INFO_AD_LEN], *sealed = NULL;
	size_t hl = strlen(who->host), ul = strlen(who->user), sealed_len = 0;
	char *b64;

	/* Both fit: host[256] and user[64] hold at most 255 and 63 bytes. */
	plain[0] = (uint8_t)hl;
	memcpy(plain + 1, who->host, hl);
	plain[1 + hl] = (uint8_t)ul;
	memcpy(plain + 2 + hl, who->user, ul);
	info_ad(salt, ad);
	if (codec_seal(keys, ad, sizeof ad, plain, 2 + hl + ul, &sealed, &sealed_len) != 0)
		return NULL;
	b64 = codec_b64(sealed, sealed_len);
	free(sealed);
	return b64;
}

/* Open the "info" field into out->host/user: OPENED, or UNREADABLE when
 * it does not authenticate under keys or does not decode. */
static KeyFileWho info_open(const CodecKeys *keys, const uint8_t salt[CODEC_SALT_LEN], const char *b64,
                            KeyFileInfo *out)
{
	uint8_t sealed[MAX_INFO], ad[INFO_AD_LEN], *plain = NULL;
	size_t sealed_len = 0, plain_len = 0, hl, ul;
	KeyFileWho who = KEYFILE_WHO_UNREADABLE;

	info_ad(salt, ad);
	if (codec_unb64(b64, sealed, sizeof sealed, &sealed_len) != 0 ||
	    codec_open(keys, ad, sizeof ad, sealed, sealed_len, &plain, &plain_len) != 0)
		goto out;
	if (plain_len < 2)
		goto out;
	hl = plain[0];
	if (2 + hl > plain_len)
		goto out;
	ul = plain[1 + hl];
	if (2 + hl + ul != plain_len || ul >= sizeof out->user ||
	    memchr(plain + 1, '\0', hl) || memchr(plain + 2 + hl, '\0', ul))
		goto out;
	memcpy(out->host, plain + 1, hl);
	out->host[hl] = '\0';
	memcpy(out->user, plain + 2 + hl, ul);
	out->user[ul] = '\0';
	who = KEYFILE_WHO_OPENED;
out:
	free(plain);
	return who;
}

int keyfile_create(const CodecKeys *keys, const char *password, size_t password_len,
                   uint64_t opslimit, uint64_t memlimit, uint8_t **out_buf, size_t *out_len,
                   StrataErr *err)
{
	uint8_t salt[CODEC_SALT_LEN], wrap_key[CODEC_KEY_LEN], *sealed = NULL;
	size_t sealed_len = 0;
	char *salt_b64 = NULL, *data_b64 = NULL, *info_b64 = NULL, *text = NULL;
	KeyFileInfo who = {0};
	json_t *o = NULL;
	int rc;

	if (!opslimit)
		opslimit = codec_pwhash_default_ops();
	if (!memlimit)
		memlimit = codec_pwhash_default_mem();
	if (!keyfile_kdf_in_bounds(opslimit, memlimit))
		return strata_err_set(err, STRATA_EUSAGE,
		                      "Argon2id settings out of bounds (opslimit %llu, memlimit %llu bytes; " KEYFILE_BOUNDS_TEXT ")",
		                      (unsigned long long)opslimit, (unsigned long long)memlimit);
	codec_random(salt, sizeof salt);
	rc = codec_pwhash(wrap_key, sizeof wrap_key, password, password_len, salt, opslimit, memlimit);
	if (rc) {
		strata_err_set(err, rc, "Argon2id failed (opslimit %llu, memlimit %llu bytes): %s",
		               (unsigned long long)opslimit, (unsigned long long)memlimit, strata_strerror(rc));
		goto out;
	}
	rc = codec_seal_with(wrap_key, WRAP_AD, sizeof WRAP_AD - 1, keys->master, CODEC_KEY_LEN,
	                     &sealed, &sealed_len);
	if (rc)
		goto out;
	salt_b64 = codec_b64(salt, sizeof salt);
	data_b64 = codec_b64(sealed, sealed_len);
	self_identity(&who);
	info_b64 = info_seal(keys, salt, &who);
	o = json_pack("{s:i, s:s, s:I, s:I, s:s, s:s, s:s, s:I}",
	              "version", FORMAT_VERSION_KEYFILE, "kdf", "argon2id13",
	              "opslimit", (json_int_t)opslimit, "memlimit", (json_int_t)memlimit,
	              "salt", salt_b64 ? salt_b64 : "", "data", data_b64 ? data_b64 : "",
	              "info", info_b64 ? info_b64 : "", "created", (json_int_t)time(NULL));
	text = o && salt_b64 && data_b64 && info_b64 ? json_dumps(o, JSON_INDENT(2) | JSON_SORT_KEYS) : NULL;
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
	free(info_b64);
	free(text);
	json_decref(o);
	return rc;
}

/* The fields every key file has, checked, bounds included: nothing that
 * fails here reaches Argon2id. */
static int parse(const uint8_t *buf, size_t len, json_t **out, KeyFileInfo *info, StrataErr *err)
{
	json_error_t jerr;
	json_t *o;
	json_int_t version = 0, ops = 0, mem = 0, created = 0;
	const char *kdf = NULL, *host = NULL, *user = NULL, *sealed = NULL;

	if (len > KEYFILE_MAX_LEN)
		return strata_err_set(err, STRATA_EFORMAT, "key file of %zu bytes is larger than any key file (%u bytes at most)",
		                      len, KEYFILE_MAX_LEN);
	o = json_loadb((const char *)buf, len, 0, &jerr);
	if (!o || !json_is_object(o)) {
		/* jansson quotes the input near the error: a planted file's
		 * control bytes must not reach the user's terminal. */
		for (char *c = jerr.text; *c; c++)
			if ((unsigned char)*c < 0x20 || *c == 0x7f)
				*c = '?';
		json_decref(o);
		return strata_err_set(err, STRATA_EFORMAT, "not a JSON key file (%s)", jerr.text);
	}
	if (json_unpack(o, "{s:I, s:s, s:I, s:I, s?s, s?s, s?s, s?I}", "version", &version, "kdf", &kdf,
	                "opslimit", &ops, "memlimit", &mem, "host", &host, "user", &user,
	                "info", &sealed, "created", &created) != 0) {
		json_decref(o);
		return strata_err_set(err, STRATA_EFORMAT, "key file lacks required fields");
	}
	if (version > FORMAT_VERSION_KEYFILE) {
		json_decref(o);
		return strata_err_set(err, STRATA_EVERSION, "key file version %lld is newer than this strata knows (%d)",
		                      (long long)version, FORMAT_VERSION_KEYFILE);
	}
	if (version < 1 || strcmp(kdf, "argon2id13") != 0) {
		json_decref(o);
		return strata_err_set(err, STRATA_EFORMAT, "key file has an unknown version or KDF");
	}
	if (ops < 0 || mem < 0 || !keyfile_kdf_in_bounds((uint64_t)ops, (uint64_t)mem)) {
		json_decref(o);
		return strata_err_set(err, STRATA_EFORMAT,
		                      "Argon2id settings out of bounds (opslimit %lld, memlimit %lld bytes; " KEYFILE_BOUNDS_TEXT ")",
		                      (long long)ops, (long long)mem);
	}
	memset(info, 0, sizeof *info);
	if (sealed) {
		info->who = KEYFILE_WHO_SEALED;
	} else if (host || user) {
		info->who = KEYFILE_WHO_CLEAR;
		snprintf(info->host, sizeof info->host, "%s", host ? host : "");
		snprintf(info->user, sizeof info->user, "%s", user ? user : "");
	}
	info->created_s = created;
	info->opslimit = (uint64_t)ops;
	info->memlimit = (uint64_t)mem;
	*out = o;
	return 0;
}

/* The salt field, decoded: 0, or -1 when it is not 16 bytes of base64. */
static int salt_of(json_t *o, uint8_t salt[CODEC_SALT_LEN])
{
	const char *b64 = NULL;
	size_t n = 0;

	if (json_unpack(o, "{s:s}", "salt", &b64) != 0 || codec_unb64(b64, salt, CODEC_SALT_LEN, &n) != 0 ||
	    n != CODEC_SALT_LEN)
		return -1;
	return 0;
}

/* out->who SEALED becomes OPENED or UNREADABLE under keys. */
static void open_who(json_t *o, const CodecKeys *keys, KeyFileInfo *out)
{
	uint8_t salt[CODEC_SALT_LEN];
	const char *sealed = NULL;

	if (out->who != KEYFILE_WHO_SEALED)
		return;
	if (salt_of(o, salt) != 0 || json_unpack(o, "{s:s}", "info", &sealed) != 0)
		out->who = KEYFILE_WHO_UNREADABLE;
	else
		out->who = info_open(keys, salt, sealed, out);
}

int keyfile_info(const uint8_t *buf, size_t len, KeyFileInfo *out, StrataErr *err)
{
	json_t *o = NULL;
	int rc = parse(buf, len, &o, out, err);

	json_decref(o);
	return rc;
}

int keyfile_info_open(const uint8_t *buf, size_t len, const CodecKeys *keys, KeyFileInfo *out,
                      StrataErr *err)
{
	json_t *o = NULL;
	int rc = parse(buf, len, &o, out, err);

	if (rc == 0)
		open_who(o, keys, out);
	json_decref(o);
	return rc;
}

int keyfile_unwrap(const uint8_t *buf, size_t len, const char *password, size_t password_len,
                   uint8_t out_master[CODEC_KEY_LEN], KeyFileInfo *info, StrataErr *err)
{
	uint8_t salt[CODEC_SALT_LEN], wrapped[MAX_WRAPPED], wrap_key[CODEC_KEY_LEN], *master = NULL;
	size_t wrapped_len = 0, master_len = 0;
	const char *data_b64 = NULL;
	KeyFileInfo tmp;
	json_t *o = NULL;
	int rc;

	rc = parse(buf, len, &o, &tmp, err);
	if (rc)
		return rc;
	if (salt_of(o, salt) != 0 || json_unpack(o, "{s:s}", "data", &data_b64) != 0 ||
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
	if (info && tmp.who == KEYFILE_WHO_SEALED) {
		CodecKeys *keys = codec_keys_new(master);

		if (!keys) {
			rc = strata_err_set(err, -ENOMEM, "cannot allocate locked memory for keys");
			goto out;
		}
		open_who(o, keys, &tmp);
		codec_keys_free(keys);
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
