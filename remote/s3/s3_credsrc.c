/* s3_credsrc.c — see s3_credsrc.h. The wire formats follow the AWS
 * documentation of each source; the tests' loopback servers
 * (tests/s3/credserver.py) check what the real services check. */
#include "remote/s3/s3_credsrc.h"
#include "remote/s3/curl_api.h"
#include "remote/s3/s3_http.h"
#include "remote/s3/s3_xml.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <poll.h>
#include <stdarg.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

/* Credential documents are a few KiB; anything larger is not one. */
#define CRED_ANSWER_MAX ((size_t)64 << 10)
/* A web identity token file (a Kubernetes service account JWT) is 1-2
 * KiB; the bound keeps a wrong path (a disk image) from being read. */
#define TOKEN_FILE_MAX ((size_t)16 << 10)
/* credential_process: the AWS CLI waits without bound; a hung helper
 * must not hang a backup for ever. */
#define PROCESS_TIMEOUT_MS 60000
/* IMDS answers from the hypervisor within milliseconds; the AWS SDKs
 * give it 1 s and one retry. STS and container endpoints get longer. */
#define IMDS_TIMEOUT_S 2
#define IMDS_ATTEMPTS 2
#define CRED_TIMEOUT_S 20
/* IMDSv2 session token lifetime asked for: the maximum, 6 h. */
#define IMDS_TOKEN_TTL "21600"
#define STS_VERSION "2011-06-15"

#define CX (curl_api_load(NULL, 0))

void s3creds_wipe(S3Creds *c)
{
	explicit_bzero(c, sizeof(*c));
}

static void why_set(char *why, size_t why_len, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void why_set(char *why, size_t why_len, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, why_len, fmt, ap);
	va_end(ap);
}

/* --- times ---------------------------------------------------------------- */

int s3credsrc_time_parse(const char *iso, int64_t *out)
{
	struct tm tm;
	const char *p;
	time_t t;

	memset(&tm, 0, sizeof(tm));
	p = strptime(iso, "%Y-%m-%dT%H:%M:%S", &tm);
	if (!p)
		return -EINVAL;
	if (*p == '.') {
		p++;
		while (*p >= '0' && *p <= '9')
			p++;
	}
	if (!(strcmp(p, "Z") == 0 || strcmp(p, "+00:00") == 0 || strcmp(p, "UTC") == 0))
		return -EINVAL;
	t = timegm(&tm);
	if (t == (time_t)-1)
		return -EINVAL;
	*out = (int64_t)t;
	return 0;
}

/* --- JSON documents --------------------------------------------------------- */

static int json_str(json_t *o, const char *name, char *dst, size_t cap, int required,
                    char *why, size_t why_len)
{
	json_t *v = json_object_get(o, name);
	const char *s;

	if (!v) {
		if (!required)
			return 0;
		why_set(why, why_len, "answer lacks \"%s\"", name);
		return -EIO;
	}
	s = json_string_value(v);
	if (!s || !*s || strlen(s) >= cap) {
		why_set(why, why_len, "answer's \"%s\" is not a string of 1 to %zu characters", name, cap - 1);
		return -EIO;
	}
	memcpy(dst, s, strlen(s) + 1);
	return 0;
}

int s3credsrc_json_parse(const char *json, size_t len, int process, S3Creds *out, char *why, size_t why_len)
{
	char expiration[64] = "", code[64] = "";
	json_error_t jerr;
	S3Creds c;
	json_t *o;
	int rc;

	memset(&c, 0, sizeof(c));
	o = json_loadb(json, len, JSON_REJECT_DUPLICATES, &jerr);
	if (!o || !json_is_object(o)) {
		why_set(why, why_len, "answer is not a JSON object");
		json_decref(o);
		return -EIO;
	}
	if (process && json_integer_value(json_object_get(o, "Version")) != 1) {
		why_set(why, why_len, "answer's \"Version\" is not 1");
		rc = -EIO;
		goto out;
	}
	if (!process && (rc = json_str(o, "Code", code, sizeof(code), 0, why, why_len)) < 0)
		goto out;
	if (code[0] && strcmp(code, "Success") != 0) {
		why_set(why, why_len, "answer's \"Code\" is \"%s\"", code);
		rc = -EACCES;
		goto out;
	}
	if ((rc = json_str(o, "AccessKeyId", c.access_key, sizeof(c.access_key), 1, why, why_len)) < 0 ||
	    (rc = json_str(o, "SecretAccessKey", c.secret_key, sizeof(c.secret_key), 1, why, why_len)) < 0 ||
	    (rc = json_str(o, process ? "SessionToken" : "Token", c.token, sizeof(c.token), !process,
	                   why, why_len)) < 0 ||
	    (rc = json_str(o, "Expiration", expiration, sizeof(expiration), !process, why, why_len)) < 0)
		goto out;
	/* expires_s 0 means "does not expire": an expiry at or before 1970
	 * is refused rather than taken for that. */
	if (expiration[0] && (s3credsrc_time_parse(expiration, &c.expires_s) < 0 || c.expires_s <= 0)) {
		why_set(why, why_len, "answer's \"Expiration\" \"%s\" is not an ISO 8601 UTC time after 1970", expiration);
		rc = -EIO;
		goto out;
	}
	*out = c;
	rc = 0;
out:
	s3creds_wipe(&c);
	/* jansson keeps the strings it parsed; they held the secret. */
	if (o) {
		json_t *v;
		const char *k;

		json_object_foreach(o, k, v)
			if (json_is_string(v))
				explicit_bzero((char *)(uintptr_t)json_string_value(v), json_string_length(v));
	}
	json_decref(o);
	return rc;
}

/* --- credential_process ------------------------------------------------------ */

int s3credsrc_process(const char *command, S3Creds *out, char *why, size_t why_len)
{
	posix_spawn_file_actions_t fa;
	char sh[] = "sh", dash_c[] = "-c", *argv[4], *buf = NULL;
	size_t len = 0;
	int fds[2] = { -1, -1 }, rc, status = 0, have_fa = 0;
	pid_t pid = -1;
	struct timespec t0, now;

	buf = malloc(CRED_ANSWER_MAX);
	if (!buf)
		return -ENOMEM;
	if (pipe2(fds, O_CLOEXEC) < 0) {
		rc = -errno;
		why_set(why, why_len, "cannot make a pipe: %s", strerror(errno));
		goto out;
	}
	if ((rc = posix_spawn_file_actions_init(&fa)) != 0) {
		rc = -rc;
		goto out;
	}
	have_fa = 1;
	posix_spawn_file_actions_adddup2(&fa, fds[1], 1);
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	argv[0] = sh;
	argv[1] = dash_c;
	argv[2] = (char *)(uintptr_t)command;
	argv[3] = NULL;
	rc = posix_spawn(&pid, "/bin/sh", &fa, NULL, argv, environ);
	close(fds[1]);
	fds[1] = -1;
	if (rc != 0) {
		why_set(why, why_len, "cannot start credential_process: %s", strerror(rc));
		rc = -EACCES;
		pid = -1;
		goto out;
	}
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (;;) {
		struct pollfd pfd = { .fd = fds[0], .events = POLLIN };
		long waited_ms;
		ssize_t n;

		clock_gettime(CLOCK_MONOTONIC, &now);
		waited_ms = (now.tv_sec - t0.tv_sec) * 1000 + (now.tv_nsec - t0.tv_nsec) / 1000000;
		if (waited_ms >= PROCESS_TIMEOUT_MS) {
			kill(pid, SIGKILL);
			why_set(why, why_len, "credential_process gave no answer within %d s", PROCESS_TIMEOUT_MS / 1000);
			rc = -EIO;
			goto out;
		}
		if (poll(&pfd, 1, (int)(PROCESS_TIMEOUT_MS - waited_ms)) < 0 && errno != EINTR) {
			rc = -errno;
			goto out;
		}
		n = read(fds[0], buf + len, CRED_ANSWER_MAX - len);
		if (n < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (n <= 0)
			break;
		len += (size_t)n;
		if (len == CRED_ANSWER_MAX) {
			kill(pid, SIGKILL);
			why_set(why, why_len, "credential_process wrote more than %zu bytes", CRED_ANSWER_MAX);
			rc = -EIO;
			goto out;
		}
	}
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	pid = -1;
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		why_set(why, why_len, "credential_process failed (%s %d)",
		        WIFEXITED(status) ? "exit status" : "signal",
		        WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status));
		rc = -EACCES;
		goto out;
	}
	rc = s3credsrc_json_parse(buf, len, 1, out, why, why_len);
	if (rc < 0) {
		char inner[200];

		snprintf(inner, sizeof(inner), "%s", why);
		why_set(why, why_len, "credential_process: %s", inner);
	}
out:
	if (pid > 0)
		while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
			;
	if (have_fa)
		posix_spawn_file_actions_destroy(&fa);
	if (fds[0] >= 0)
		close(fds[0]);
	if (fds[1] >= 0)
		close(fds[1]);
	explicit_bzero(buf, CRED_ANSWER_MAX);
	free(buf);
	return rc;
}

/* --- HTTP ------------------------------------------------------------------ */

typedef struct Answer {
	char *p;
	size_t len;
	int overflow;
} Answer;

static size_t on_body(char *p, size_t size, size_t nmemb, void *ud)
{
	Answer *a = ud;
	size_t n = size * nmemb;

	if (n >= CRED_ANSWER_MAX - a->len) {
		a->overflow = 1;
		return 0;
	}
	memcpy(a->p + a->len, p, n);
	a->len += n;
	a->p[a->len] = '\0';
	return n;
}

typedef struct HttpReq {
	const char *method;             /* GET, PUT, POST */
	const char *url;
	struct curl_slist *headers;
	const char *body;               /* POST body, or NULL */
	const char *sigv4;              /* "aws:amz:REGION:sts" to sign, or NULL */
	const S3Creds *signer;
	long timeout_s;
	int attempts;
	const S3CredNet *net;
	const char *what;               /* the source, for why */
} HttpReq;

/* http — perform rq; on a 2xx answer *out holds its body (NUL-terminated,
 * malloc'ed, to be wiped and freed by the caller). Non-2xx answers come
 * back as -EACCES (4xx) or -EIO with *status set and *out holding the
 * body, for the caller's error parsing. */
static int http(const HttpReq *rq, Answer *out, long *status, char *why, size_t why_len)
{
	char errbuf[CURL_ERROR_SIZE];
	CURL *h;
	CURLcode cc = CURLE_OK;
	int i, rc = 0;

	*status = 0;
	out->p = malloc(CRED_ANSWER_MAX);
	out->len = 0;
	out->overflow = 0;
	if (!out->p)
		return -ENOMEM;
	out->p[0] = '\0';
	h = CX->easy_init();
	if (!h)
		return -ENOMEM;
	for (i = 0; i < rq->attempts; i++) {
		out->len = 0;
		out->p[0] = '\0';
		errbuf[0] = '\0';
		CX->easy_reset(h);
		CX->easy_setopt(h, CURLOPT_URL, rq->url);
		CX->easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
		CX->easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
		CX->easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
		CX->easy_setopt(h, CURLOPT_USERAGENT, "strata");
		CX->easy_setopt(h, CURLOPT_CONNECTTIMEOUT, rq->timeout_s);
		CX->easy_setopt(h, CURLOPT_TIMEOUT, rq->timeout_s);
		CX->easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
		CX->easy_setopt(h, CURLOPT_WRITEDATA, out);
		if (rq->headers)
			CX->easy_setopt(h, CURLOPT_HTTPHEADER, rq->headers);
		if (rq->net && rq->net->ca_bundle)
			CX->easy_setopt(h, CURLOPT_CAINFO, rq->net->ca_bundle);
		if (rq->net && rq->net->insecure_tls) {
			CX->easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 0L);
			CX->easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 0L);
		}
		if (strcmp(rq->method, "PUT") == 0) {
			CX->easy_setopt(h, CURLOPT_CUSTOMREQUEST, "PUT");
		} else if (strcmp(rq->method, "POST") == 0) {
			CX->easy_setopt(h, CURLOPT_POST, 1L);
			CX->easy_setopt(h, CURLOPT_POSTFIELDS, rq->body ? rq->body : "");
			CX->easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE,
			                (curl_off_t)(rq->body ? strlen(rq->body) : 0));
		}
		if (rq->sigv4) {
			CX->easy_setopt(h, CURLOPT_AWS_SIGV4, rq->sigv4);
			CX->easy_setopt(h, CURLOPT_USERNAME, rq->signer->access_key);
			CX->easy_setopt(h, CURLOPT_PASSWORD, rq->signer->secret_key);
		}
		cc = CX->easy_perform(h);
		CX->easy_getinfo(h, CURLINFO_RESPONSE_CODE, status);
		if (cc == CURLE_OK && *status < 500)
			break;
	}
	CX->easy_reset(h);
	CX->easy_cleanup(h);
	if (out->overflow) {
		why_set(why, why_len, "%s: answer longer than %zu bytes", rq->what, CRED_ANSWER_MAX);
		rc = -EIO;
	} else if (cc != CURLE_OK) {
		why_set(why, why_len, "%s: %s%s%.200s%s", rq->what, CX->easy_strerror(cc),
		        errbuf[0] ? " (" : "", errbuf, errbuf[0] ? ")" : "");
		rc = -EIO;
	} else if (*status < 200 || *status > 299) {
		why_set(why, why_len, "%s: HTTP %ld", rq->what, *status);
		rc = *status >= 400 && *status < 500 ? -EACCES : -EIO;
	}
	return rc;
}

static void answer_free(Answer *a)
{
	if (a->p) {
		explicit_bzero(a->p, a->len);
		free(a->p);
	}
	a->p = NULL;
}

/* --- STS ------------------------------------------------------------------------ */

/* form_add — "&name=value" (no '&' first), value percent-encoded. */
static int form_add(char **form, const char *name, const char *value)
{
	char *enc = s3http_encode(value, 0), *n = NULL;
	int rc;

	if (!enc)
		return -ENOMEM;
	rc = asprintf(&n, "%s%s%s=%s", *form ? *form : "", *form ? "&" : "", name, enc);
	explicit_bzero(enc, strlen(enc));
	free(enc);
	if (rc < 0)
		return -ENOMEM;
	if (*form) {
		explicit_bzero(*form, strlen(*form));
		free(*form);
	}
	*form = n;
	return 0;
}

/* sts_call — POST rq's form to STS with extra (one more header line, or
 * NULL) and read the credentials out of the answer. */
static int sts_call(HttpReq *rq, const char *action, const char *extra, S3Creds *out, char *why,
                    size_t why_len)
{
	struct curl_slist *l;
	S3XmlSts *x = NULL;
	Answer a = { NULL, 0, 0 };
	long status = 0;
	int rc, prc;

	rq->headers = CX->slist_append(NULL, "Content-Type: application/x-www-form-urlencoded");
	if (rq->headers && extra) {
		l = CX->slist_append(rq->headers, extra);
		if (!l) {
			CX->slist_free_all(rq->headers);
			rq->headers = NULL;
		}
	}
	if (!rq->headers)
		return -ENOMEM;
	rq->timeout_s = CRED_TIMEOUT_S;
	rq->attempts = 3;
	rc = http(rq, &a, &status, why, why_len);
	if (rc == -ENOMEM || !a.p)
		goto out;
	x = malloc(sizeof(*x));
	if (!x) {
		rc = -ENOMEM;
		goto out;
	}
	prc = status ? s3xml_sts_parse(a.p, a.len, x) : -EPROTO;
	if (prc == 1) {
		/* STS's own words: "AccessDenied: Not authorized to perform
		 * sts:AssumeRoleWithWebIdentity", "ExpiredTokenException". */
		why_set(why, why_len, "%s: %s: HTTP %ld: %s: %s", rq->what, action, status, x->code, x->message);
		rc = status >= 500 ? -EIO : -EACCES;
		goto out;
	}
	if (rc < 0)
		goto out;
	if (prc < 0) {
		why_set(why, why_len, "%s: %s: unreadable answer", rq->what, action);
		rc = prc == -ENOMEM ? -ENOMEM : -EIO;
		goto out;
	}
	memset(out, 0, sizeof(*out));
	snprintf(out->access_key, sizeof(out->access_key), "%s", x->access_key);
	snprintf(out->secret_key, sizeof(out->secret_key), "%s", x->secret_key);
	snprintf(out->token, sizeof(out->token), "%s", x->token);
	if (s3credsrc_time_parse(x->expiration, &out->expires_s) < 0) {
		s3creds_wipe(out);
		why_set(why, why_len, "%s: %s: Expiration \"%s\" is not an ISO 8601 UTC time", rq->what, action,
		        x->expiration);
		rc = -EIO;
	}
out:
	if (x) {
		explicit_bzero(x, sizeof(*x));
		free(x);
	}
	answer_free(&a);
	CX->slist_free_all(rq->headers);
	rq->headers = NULL;
	return rc;
}

/* read_token_file — the file's text without a trailing newline. */
static int read_token_file(const char *path, char **out, char *why, size_t why_len)
{
	char *buf = malloc(TOKEN_FILE_MAX + 1);
	size_t n;
	FILE *f;

	if (!buf)
		return -ENOMEM;
	f = fopen(path, "re");
	if (!f) {
		why_set(why, why_len, "web identity token file %s: %s", path, strerror(errno));
		free(buf);
		return -EACCES;
	}
	n = fread(buf, 1, TOKEN_FILE_MAX + 1, f);
	fclose(f);
	while (n && (buf[n - 1] == '\n' || buf[n - 1] == '\r' || buf[n - 1] == ' '))
		n--;
	if (n == 0 || n > TOKEN_FILE_MAX) {
		why_set(why, why_len, "web identity token file %s: %s", path,
		        n ? "larger than 16 KiB" : "empty");
		explicit_bzero(buf, TOKEN_FILE_MAX + 1);
		free(buf);
		return -EACCES;
	}
	buf[n] = '\0';
	*out = buf;
	return 0;
}

int s3credsrc_web_identity(const char *sts_url, const char *role_arn, const char *session_name,
                           const char *token_file, const S3CredNet *net, S3Creds *out,
                           char *why, size_t why_len)
{
	HttpReq rq;
	char *token = NULL, *form = NULL;
	int rc;

	rc = read_token_file(token_file, &token, why, why_len);
	if (rc < 0)
		return rc;
	/* Parameters in any order; sorted for readability of captures. */
	if (form_add(&form, "Action", "AssumeRoleWithWebIdentity") < 0 ||
	    form_add(&form, "RoleArn", role_arn) < 0 ||
	    form_add(&form, "RoleSessionName", session_name) < 0 ||
	    form_add(&form, "Version", STS_VERSION) < 0 ||
	    form_add(&form, "WebIdentityToken", token) < 0) {
		rc = -ENOMEM;
		goto out;
	}
	memset(&rq, 0, sizeof(rq));
	rq.method = "POST";
	rq.url = sts_url;
	rq.body = form;
	rq.net = net;
	rq.what = "STS";
	rc = sts_call(&rq, "AssumeRoleWithWebIdentity", NULL, out, why, why_len);
out:
	if (form) {
		explicit_bzero(form, strlen(form));
		free(form);
	}
	explicit_bzero(token, strlen(token));
	free(token);
	return rc;
}

int s3credsrc_assume_role(const char *sts_url, const char *region, const char *role_arn,
                          const char *session_name, const char *external_id, const S3Creds *source,
                          const S3CredNet *net, S3Creds *out, char *why, size_t why_len)
{
	char sigv4[80], *form = NULL, *tok = NULL;
	HttpReq rq;
	int rc;

	if (form_add(&form, "Action", "AssumeRole") < 0 ||
	    (external_id && form_add(&form, "ExternalId", external_id) < 0) ||
	    form_add(&form, "RoleArn", role_arn) < 0 ||
	    form_add(&form, "RoleSessionName", session_name) < 0 ||
	    form_add(&form, "Version", STS_VERSION) < 0) {
		free(form);
		return -ENOMEM;
	}
	snprintf(sigv4, sizeof(sigv4), "aws:amz:%s:sts", region);
	memset(&rq, 0, sizeof(rq));
	rq.method = "POST";
	rq.url = sts_url;
	rq.body = form;
	rq.sigv4 = sigv4;
	rq.signer = source;
	rq.net = net;
	rq.what = "STS";
	if (source->token[0]) {
		if (asprintf(&tok, "x-amz-security-token: %s", source->token) < 0) {
			free(form);
			return -ENOMEM;
		}
	}
	rc = sts_call(&rq, "AssumeRole", tok, out, why, why_len);
	if (tok) {
		explicit_bzero(tok, strlen(tok));
		free(tok);
	}
	explicit_bzero(form, strlen(form));
	free(form);
	return rc;
}

/* --- container credentials ------------------------------------------------------ */

int s3credsrc_container_url_ok(const char *url)
{
	static const char *const hosts[] = {
		"127.", "localhost", "[::1]", "169.254.170.2", "169.254.170.23", "[fd00:ec2::23]", NULL,
	};
	const char *host;
	size_t hl;
	int i;

	if (strncasecmp(url, "https://", 8) == 0)
		return 1;
	if (strncasecmp(url, "http://", 7) != 0)
		return 0;
	host = url + 7;
	hl = strcspn(host, "/?#");
	if (memchr(host, '@', hl))
		return 0;
	for (i = 0; hosts[i]; i++) {
		size_t n = strlen(hosts[i]);

		if (hosts[i][n - 1] == '.') {
			if (hl > n && strncmp(host, hosts[i], n) == 0 &&
			    strspn(host + n, "0123456789.") == strcspn(host + n, ":/?#"))
				return 1;
		} else if (hl >= n && strncmp(host, hosts[i], n) == 0 && (hl == n || host[n] == ':')) {
			return 1;
		}
	}
	return 0;
}

int s3credsrc_container(const char *url, const char *auth, const S3CredNet *net, S3Creds *out,
                        char *why, size_t why_len)
{
	char *line = NULL, inner[200];
	Answer a = { NULL, 0, 0 };
	HttpReq rq;
	long status = 0;
	int rc;

	memset(&rq, 0, sizeof(rq));
	if (auth) {
		if (asprintf(&line, "Authorization: %s", auth) < 0)
			return -ENOMEM;
		rq.headers = CX->slist_append(NULL, line);
		explicit_bzero(line, strlen(line));
		free(line);
		if (!rq.headers)
			return -ENOMEM;
	}
	rq.method = "GET";
	rq.url = url;
	rq.net = net;
	rq.timeout_s = CRED_TIMEOUT_S;
	rq.attempts = 3;
	rq.what = "container credentials endpoint";
	rc = http(&rq, &a, &status, why, why_len);
	if (rc == 0) {
		rc = s3credsrc_json_parse(a.p, a.len, 0, out, why, why_len);
		if (rc < 0) {
			snprintf(inner, sizeof(inner), "%s", why);
			why_set(why, why_len, "container credentials endpoint: %s", inner);
		}
	}
	answer_free(&a);
	if (rq.headers)
		CX->slist_free_all(rq.headers);
	return rc;
}

/* --- EC2 instance metadata (IMDSv2) ------------------------------------------------ */

int s3credsrc_imds(const char *endpoint, S3Creds *out, char *why, size_t why_len)
{
	char *url = NULL, *hdr = NULL, *role = NULL, inner[200];
	Answer a = { NULL, 0, 0 };
	size_t el = strlen(endpoint);
	HttpReq rq;
	long status = 0;
	int rc;

	while (el && endpoint[el - 1] == '/')
		el--;
	memset(&rq, 0, sizeof(rq));
	rq.timeout_s = IMDS_TIMEOUT_S;
	rq.attempts = IMDS_ATTEMPTS;
	rq.what = "instance metadata";
	/* 1. a session token */
	if (asprintf(&url, "%.*s/latest/api/token", (int)el, endpoint) < 0) {
		url = NULL;
		rc = -ENOMEM;
		goto out;
	}
	rq.headers = CX->slist_append(NULL, "X-aws-ec2-metadata-token-ttl-seconds: " IMDS_TOKEN_TTL);
	if (!rq.headers) {
		rc = -ENOMEM;
		goto out;
	}
	rq.method = "PUT";
	rq.url = url;
	rc = http(&rq, &a, &status, why, why_len);
	CX->slist_free_all(rq.headers);
	rq.headers = NULL;
	if (rc < 0)
		goto out;
	if (a.len == 0 || a.len > 4096 || strcspn(a.p, "\r\n") != a.len) {
		why_set(why, why_len, "instance metadata: bad session token answer");
		rc = -EIO;
		goto out;
	}
	if (asprintf(&hdr, "X-aws-ec2-metadata-token: %s", a.p) < 0) {
		hdr = NULL;
		rc = -ENOMEM;
		goto out;
	}
	answer_free(&a);
	rq.headers = CX->slist_append(NULL, hdr);
	if (!rq.headers) {
		rc = -ENOMEM;
		goto out;
	}
	/* 2. the instance profile's role */
	free(url);
	if (asprintf(&url, "%.*s/latest/meta-data/iam/security-credentials/", (int)el, endpoint) < 0) {
		url = NULL;
		rc = -ENOMEM;
		goto out;
	}
	rq.method = "GET";
	rq.url = url;
	rc = http(&rq, &a, &status, why, why_len);
	if (rc < 0) {
		if (status == 404)
			why_set(why, why_len, "instance metadata: this instance has no IAM role (HTTP 404)");
		goto out;
	}
	a.p[strcspn(a.p, "\r\n")] = '\0';
	if (!a.p[0] || strlen(a.p) > 128 || strspn(a.p, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
	                                             "0123456789+=,.@_-") != strlen(a.p)) {
		why_set(why, why_len, "instance metadata: bad role name answer");
		rc = -EIO;
		goto out;
	}
	role = strdup(a.p);
	answer_free(&a);
	free(url);
	url = NULL;
	if (!role || asprintf(&url, "%.*s/latest/meta-data/iam/security-credentials/%s", (int)el, endpoint, role) < 0) {
		url = NULL;
		rc = -ENOMEM;
		goto out;
	}
	/* 3. its credentials */
	rq.url = url;
	rc = http(&rq, &a, &status, why, why_len);
	if (rc == 0) {
		rc = s3credsrc_json_parse(a.p, a.len, 0, out, why, why_len);
		if (rc < 0) {
			snprintf(inner, sizeof(inner), "%s", why);
			why_set(why, why_len, "instance metadata (role %s): %s", role, inner);
		}
	}
out:
	answer_free(&a);
	if (rq.headers)
		CX->slist_free_all(rq.headers);
	if (hdr) {
		explicit_bzero(hdr, strlen(hdr));
		free(hdr);
	}
	free(role);
	free(url);
	return rc;
}
