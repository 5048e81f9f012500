package httpapi

import (
	"encoding/json"
	"fmt"
	"strings"
)

// vendorCodes is the allow-list of vendor error codes an error may quote. A vendor writes whatever it likes into
// an error body, a credential or a generated key included, so nothing else of it is ever quoted: a code is
// compared case-insensitively, with '-', '.' and ' ' taken as '_', and quoted in the spelling below. These are the
// codes of OAuth 2.0 (RFC 6749, RFC 6750), of gRPC's canonical statuses as REST APIs spell them, and the common
// rate and quota codes.
var vendorCodes = map[string]bool{
	"invalid_request":     true,
	"invalid_token":       true,
	"invalid_api_key":     true,
	"insufficient_scope":  true,
	"unauthorized":        true,
	"unauthenticated":     true,
	"forbidden":           true,
	"permission_denied":   true,
	"not_found":           true,
	"already_exists":      true,
	"conflict":            true,
	"rate_limited":        true,
	"too_many_requests":   true,
	"quota_exceeded":      true,
	"resource_exhausted":  true,
	"internal_error":      true,
	"unavailable":         true,
	"service_unavailable": true,
	"timeout":             true,
}

// maxCodeLen is longer than any code in vendorCodes: a longer candidate is not looked at.
const maxCodeLen = 32

// vendorCode returns ` (vendor code "...")` when the body is a JSON object whose string "error" or "code" field (or
// "error": {"code": ...}) is in vendorCodes; else "".
func vendorCode(resp response) string {
	var doc map[string]any
	if resp.tooLarge || json.Unmarshal(resp.body, &doc) != nil {
		return ""
	}
	code, ok := doc["error"].(string)
	if !ok {
		code, ok = doc["code"].(string)
	}
	if nested, isObj := doc["error"].(map[string]any); !ok && isObj {
		code, ok = nested["code"].(string)
	}
	if !ok || len(code) > maxCodeLen {
		return ""
	}
	code = strings.Map(func(c rune) rune {
		if c == '-' || c == '.' || c == ' ' {
			return '_'
		}
		return c
	}, strings.ToLower(strings.TrimSpace(code)))
	if !vendorCodes[code] {
		return ""
	}
	return fmt.Sprintf(" (vendor code %q)", code)
}
