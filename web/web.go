// Package web embeds the built web client so the tkesj binary serves it without Node.
package web

import "embed"

// Dist holds the built client (index.html and assets/).
//
//go:embed all:dist
var Dist embed.FS
