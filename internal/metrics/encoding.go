package metrics

import (
	"net/http"
	"strings"
)

// gzipAccepted reports whether promhttp would answer r gzipped: of the encodings it offers, identity then gzip
// (zstd only in a binary that imports promhttp/zstd, which this one does not), the first with the highest
// q-value in Accept-Encoding wins, "*" matching any; identity when no element matches or the best q is 0.
//
// promhttp parses the header with its internal copy of gddo's httputil/header, which cannot be imported; this
// is that parser, quirks kept: an element it cannot parse (a parameter other than q, a q out of [0, 1]) ends
// the parse of its header line. handler_test.go compares the choice with promhttp's for a table of headers.
func gzipAccepted(r *http.Request) bool {
	identity, gzip := -1.0, -1.0
	for _, line := range r.Header["Accept-Encoding"] {
		for s := line; ; {
			var value string
			value, s = token(s)
			if value == "" {
				break
			}
			q := 1.0
			s = skipSpace(s)
			if strings.HasPrefix(s, ";") {
				s = skipSpace(s[1:])
				if !strings.HasPrefix(s, "q=") {
					break
				}
				if q, s = quality(s[2:]); q < 0 {
					break
				}
			}
			if value == "*" || value == "identity" {
				identity = max(identity, q)
			}
			if value == "*" || value == "gzip" {
				gzip = max(gzip, q)
			}
			s = skipSpace(s)
			if !strings.HasPrefix(s, ",") {
				break
			}
			s = skipSpace(s[1:])
		}
	}
	// A tie goes to identity, offered first; a best q of 0 makes promhttp fall back to identity.
	return gzip > identity && gzip > 0
}

// separators are the bytes RFC 7230 excludes from a token besides controls.
const separators = " \t\"(),/:;<=>?@[]\\{}"

// token splits s after its leading token, slashes included.
func token(s string) (string, string) {
	i := 0
	for ; i < len(s); i++ {
		c := s[i]
		if c != '/' && (c <= 31 || c >= 127 || strings.IndexByte(separators, c) >= 0) {
			break
		}
	}
	return s[:i], s[i:]
}

func skipSpace(s string) string {
	return strings.TrimLeft(s, " \t\r\n")
}

// quality parses a q-value: 0 or 1, then optionally a dot and digits; -1 when s starts with neither.
func quality(s string) (float64, string) {
	var q float64
	switch {
	case strings.HasPrefix(s, "0"):
	case strings.HasPrefix(s, "1"):
		q = 1
	default:
		return -1, ""
	}
	s = s[1:]
	if !strings.HasPrefix(s, ".") {
		return q, s
	}
	s = s[1:]
	n, d, i := 0, 1, 0
	for ; i < len(s) && s[i] >= '0' && s[i] <= '9'; i++ {
		n = n*10 + int(s[i]-'0')
		d *= 10
	}
	return q + float64(n)/float64(d), s[i:]
}
