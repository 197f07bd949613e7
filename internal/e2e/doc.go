// Package e2e holds tkesj's end-to-end tests: each starts real servers
// in-process on 127.0.0.1:0 (app.Serve, the same code `tkesj serve` runs) and
// drives them through HTTP exactly as a client would. The package has no
// non-test code besides this comment.
package e2e
