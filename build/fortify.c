/*
 * For static musl builds only: Debian's libseccomp.a is compiled against
 * glibc with _FORTIFY_SOURCE, so its PFC export calls __fprintf_chk, which
 * musl does not have. Same contract, without the check. No headers, so no
 * glibc declaration leaks into a musl link.
 */
typedef struct _IO_FILE FILE;
int vfprintf(FILE *restrict, const char *restrict, __builtin_va_list);

int __fprintf_chk(FILE *restrict fp, int flag, const char *restrict fmt, ...)
{
	__builtin_va_list ap;
	int r;

	(void)flag;
	__builtin_va_start(ap, fmt);
	r = vfprintf(fp, fmt, ap);
	__builtin_va_end(ap);
	return r;
}
