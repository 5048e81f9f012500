package monitoring

import (
	"fmt"
	"slices"
	"testing"

	. "github.com/onsi/gomega"
)

// promqlKeywords are the identifiers of PromQL that are no metric name, whatever follows them.
var promqlKeywords = map[string]bool{
	"and": true, "or": true, "unless": true, "bool": true, "offset": true, "group_left": true, "group_right": true,
	"by": true, "without": true, "on": true, "ignoring": true, "inf": true, "nan": true, "atan2": true,
	// Aggregation operators: "sum by (le) (…)" puts a modifier between the name and its "(".
	"sum": true, "min": true, "max": true, "avg": true, "group": true, "stddev": true, "stdvar": true, "count": true,
	"count_values": true, "bottomk": true, "topk": true, "quantile": true, "limitk": true, "limit_ratio": true,
}

// labelListKeywords are followed by a parenthesised list of label names, not an expression.
var labelListKeywords = map[string]bool{
	"by": true, "without": true, "on": true, "ignoring": true, "group_left": true, "group_right": true,
}

// metricNames lists the metric names a PromQL expression selects, in order, once each. It is a small lexer, not
// a parser: it skips strings, label matchers {…}, ranges […], Grafana variables ($x, ${x}), numbers and durations,
// the label lists of by/without/on/ignoring/group_left/group_right, keywords and function names (an identifier
// followed by "("). What is left is a metric name. promtool checks that the expressions parse
// (TestDashboardQueriesParse), so this needs to handle valid PromQL only.
func metricNames(expr string) ([]string, error) {
	var names []string
	s := []rune(expr)
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == '"' || c == '\'' || c == '`':
			end, err := skipString(s, i)
			if err != nil {
				return nil, err
			}
			i = end
		case c == '{' || c == '[':
			end, err := skipGroup(s, i)
			if err != nil {
				return nil, err
			}
			i = end
		case c == '$':
			i++
			if i < len(s) && s[i] == '{' {
				for i < len(s) && s[i] != '}' {
					i++
				}
				i++
				break
			}
			for i < len(s) && isIdent(s[i]) {
				i++
			}
		case c >= '0' && c <= '9' || c == '.':
			for i < len(s) && (isIdent(s[i]) || s[i] == '.' || ((s[i] == '+' || s[i] == '-') && (s[i-1] == 'e' || s[i-1] == 'E'))) {
				i++
			}
		case isIdentStart(c):
			start := i
			for i < len(s) && isIdent(s[i]) {
				i++
			}
			word := string(s[start:i])
			j := i
			for j < len(s) && (s[j] == ' ' || s[j] == '\t' || s[j] == '\n' || s[j] == '\r') {
				j++
			}
			followedByParen := j < len(s) && s[j] == '('
			switch {
			case labelListKeywords[word] && followedByParen:
				end, err := skipGroup(s, j)
				if err != nil {
					return nil, err
				}
				i = end
			case followedByParen || promqlKeywords[word]:
				// A function or aggregation, or a keyword.
			default:
				if !slices.Contains(names, word) {
					names = append(names, word)
				}
			}
		default:
			i++
		}
	}
	return names, nil
}

func isIdentStart(c rune) bool {
	return c == '_' || c == ':' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
}

func isIdent(c rune) bool { return isIdentStart(c) || (c >= '0' && c <= '9') }

// skipString returns the index after the string literal that starts at i.
func skipString(s []rune, i int) (int, error) {
	q := s[i]
	for j := i + 1; j < len(s); j++ {
		if s[j] == '\\' && q != '`' {
			j++
			continue
		}
		if s[j] == q {
			return j + 1, nil
		}
	}
	return 0, fmt.Errorf("unterminated string at %d in %q", i, string(s))
}

// skipGroup returns the index after the bracket that closes the one at i ({, [ or (), skipping strings inside.
func skipGroup(s []rune, i int) (int, error) {
	closing := map[rune]rune{'{': '}', '[': ']', '(': ')'}
	var stack []rune
	for j := i; j < len(s); j++ {
		switch c := s[j]; {
		case c == '"' || c == '\'' || c == '`':
			end, err := skipString(s, j)
			if err != nil {
				return 0, err
			}
			j = end - 1
		case closing[c] != 0:
			stack = append(stack, closing[c])
		case len(stack) > 0 && c == stack[len(stack)-1]:
			stack = stack[:len(stack)-1]
			if len(stack) == 0 {
				return j + 1, nil
			}
		}
	}
	return 0, fmt.Errorf("unclosed %q at %d in %q", s[i], i, string(s))
}

func TestMetricNames(t *testing.T) {
	for _, c := range []struct {
		expr string
		want []string
	}{
		{`up`, []string{"up"}},
		{`secret_rotator_stalled{namespace=~"$namespace", reason!="a{b}"} == 1`, []string{"secret_rotator_stalled"}},
		{`histogram_quantile(0.99, sum by (le) (rate(secret_rotator_rotation_duration_seconds_bucket[$__rate_interval])))`,
			[]string{"secret_rotator_rotation_duration_seconds_bucket"}},
		{`sum without (instance) (rate(a_total[5m] offset 1h)) / on (job) group_left (x) b > bool 2e-3`, []string{"a_total", "b"}},
		{`(time() - max by(namespace, name) (x) > 3600) unless on(namespace,name) (y > time() - 3600)`, []string{"x", "y"}},
		{`absent(up{job="j"} == 1) and on () count(up) > 0`, []string{"up"}},
		{`label_replace(foo, "dst", "$1", "src", "(.*)") or vector(0)`, []string{"foo"}},
		{`sort_desc(max by (namespace, name) (m:recorded) - time())`, []string{"m:recorded"}},
		{`rate(x[${__range}]) @ 1609746000`, []string{"x"}},
	} {
		got, err := metricNames(c.expr)
		NewWithT(t).Expect(err).NotTo(HaveOccurred(), c.expr)
		NewWithT(t).Expect(got).To(Equal(c.want), c.expr)
	}
	_, err := metricNames(`x{a="b}`)
	NewWithT(t).Expect(err).To(HaveOccurred())
}
