// Package attack is tkesj's hostile test suite (issue 14): its tests start
// the real server on loopback and attack it through HTTP and WebSocket as an
// outsider would: an authorization walk over every route as several
// identities, enumeration checks on every unauthenticated endpoint, slow
// clients, decompression and dimension bombs, socket exhaustion and SSRF
// targets. Every part is bounded in time. Nothing is ever sent anywhere but
// loopback: SSRF targets are only URLs the server must refuse.
//
// The package has no code outside its tests, except the bombs subpackage
// that builds hostile files; nothing imports it.
package attack
