package healthcheck

// Exported for the tests in package healthcheck_test, which drive a Checker
// on healthchecktest.FakeClock and so cannot be part of this package
// (healthchecktest imports healthcheck).

// ErrKeepalive is errKeepalive: a watched connection the kernel dropped for
// an unanswered keepalive.
var ErrKeepalive = errKeepalive
