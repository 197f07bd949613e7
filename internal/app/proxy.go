package app

import (
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"strings"
)

// trustedProxies says which peers may tell tkesj who the client is. Behind a
// reverse proxy every request comes from the proxy, so without it all people
// would share one address: per-address limits, new-network detection and
// the device list would see only the proxy.
type trustedProxies struct {
	nets   []netip.Prefix
	header string // "X-Forwarded-For" or "Forwarded": the one the proxy writes
}

// parseTrustedProxies reads --trusted-proxies (comma-separated CIDRs or
// single addresses) and --proxy-header. Only one header is read: a proxy
// that writes X-Forwarded-For passes a client's own Forwarded header on
// untouched (and the other way round), so reading both would let anyone
// name their address.
func parseTrustedProxies(list, header string) (*trustedProxies, error) {
	tp := &trustedProxies{}
	switch strings.ToLower(strings.TrimSpace(header)) {
	case "", "x-forwarded-for":
		tp.header = "X-Forwarded-For"
	case "forwarded":
		tp.header = "Forwarded"
	default:
		return nil, fmt.Errorf("--proxy-header %q: want X-Forwarded-For or Forwarded", header)
	}
	for _, f := range strings.Split(list, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		if !strings.Contains(f, "/") {
			a, err := netip.ParseAddr(f)
			if err != nil {
				return nil, fmt.Errorf("--trusted-proxies: %q is neither an address nor a CIDR", f)
			}
			a = a.Unmap()
			tp.nets = append(tp.nets, netip.PrefixFrom(a, a.BitLen()))
			continue
		}
		p, err := netip.ParsePrefix(f)
		if err != nil {
			return nil, fmt.Errorf("--trusted-proxies: %q is not a CIDR: %v", f, err)
		}
		if p.Addr().Is4In6() {
			p = netip.PrefixFrom(p.Addr().Unmap(), p.Bits()-96)
		}
		tp.nets = append(tp.nets, p.Masked())
	}
	return tp, nil
}

func (tp *trustedProxies) trusted(a netip.Addr) bool {
	for _, p := range tp.nets {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// clientAddr returns the address of the client behind r by the rightmost-
// untrusted rule: when the peer is a trusted proxy, walk the proxy header's
// hops from the right (the one the nearest proxy added) and take the first
// that is not a trusted proxy. Hops left of it were written by the client
// and prove nothing. A peer that is not trusted is the client, whatever its
// headers say; a hop that is not an address ends the walk at the last
// trusted hop.
func (tp *trustedProxies) clientAddr(r *http.Request) (netip.Addr, bool) {
	peer, ok := hostAddr(r.RemoteAddr)
	if !ok || !tp.trusted(peer) {
		return peer, ok
	}
	hops := forwardedHops(r.Header.Values(tp.header), tp.header == "Forwarded")
	client := peer
	for i := len(hops) - 1; i >= 0; i-- {
		a, ok := hopAddr(hops[i])
		if !ok {
			break
		}
		client = a
		if !tp.trusted(a) {
			break
		}
	}
	return client, true
}

// wrap rewrites each request's RemoteAddr to the client's address (port 0)
// before h sees it, so every reader of RemoteAddr gets the client.
func (tp *trustedProxies) wrap(h http.Handler) http.Handler {
	if len(tp.nets) == 0 {
		return h
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if a, ok := tp.clientAddr(r); ok {
			if peer, _ := hostAddr(r.RemoteAddr); peer != a {
				r2 := *r
				r2.RemoteAddr = netip.AddrPortFrom(a, 0).String()
				r = &r2
			}
		}
		h.ServeHTTP(w, r)
	})
}

func hostAddr(remote string) (netip.Addr, bool) {
	host, _, err := net.SplitHostPort(remote)
	if err != nil {
		host = remote
	}
	a, err := netip.ParseAddr(host)
	if err != nil {
		return netip.Addr{}, false
	}
	return a.Unmap().WithZone(""), true
}

// forwardedHops lists the hops of every header line in order: the
// addresses of X-Forwarded-For, or the for= values of Forwarded (RFC 7239).
func forwardedHops(lines []string, rfc7239 bool) []string {
	var hops []string
	for _, line := range lines {
		for _, el := range strings.Split(line, ",") {
			el = strings.TrimSpace(el)
			if !rfc7239 {
				hops = append(hops, el)
				continue
			}
			v := ""
			for _, pair := range strings.Split(el, ";") {
				k, val, ok := strings.Cut(strings.TrimSpace(pair), "=")
				if ok && strings.EqualFold(strings.TrimSpace(k), "for") {
					v = strings.Trim(strings.TrimSpace(val), `"`)
				}
			}
			hops = append(hops, v)
		}
	}
	return hops
}

// hopAddr parses one hop: an address, optionally with a port, IPv6 in
// brackets when it has one.
func hopAddr(h string) (netip.Addr, bool) {
	if a, err := netip.ParseAddr(h); err == nil {
		return a.Unmap().WithZone(""), true
	}
	if ap, err := netip.ParseAddrPort(h); err == nil {
		return ap.Addr().Unmap().WithZone(""), true
	}
	if strings.HasPrefix(h, "[") && strings.HasSuffix(h, "]") {
		if a, err := netip.ParseAddr(h[1 : len(h)-1]); err == nil {
			return a.Unmap().WithZone(""), true
		}
	}
	return netip.Addr{}, false
}
