package notify

import "sort"

// ellipsis ends a text that was cut.
const ellipsis = "…"

// fit returns s, or its longest prefix (cut between characters) followed by ellipsis, whose size is at most
// budget; "" when not even ellipsis fits. size must grow with the prefix and be at least the prefix's length in
// bytes, as the encoded size of a valid UTF-8 string is.
func fit(s string, budget int, size func(string) int) string {
	if len(s) <= budget && size(s) <= budget {
		return s
	}
	// No prefix longer than budget bytes can fit; looking no further keeps a huge s cheap.
	var cuts []int
	for i := range s {
		if i > budget {
			break
		}
		cuts = append(cuts, i)
	}
	n := sort.Search(len(cuts), func(k int) bool { return size(s[:cuts[k]]+ellipsis) > budget })
	if n == 0 {
		return ""
	}
	return s[:cuts[n-1]] + ellipsis
}

// fitPair cuts a and b so that their sizes add up to at most budget: both whole when they fit, otherwise each
// gets half, and what one needs less of goes to the other.
func fitPair(a, b string, budget int, size func(string) int) (string, string) {
	// A text longer than budget bytes is too long whatever its size; not measuring it keeps a huge one cheap.
	bounded := func(s string) int {
		if len(s) > budget {
			return budget + 1
		}
		return size(s)
	}
	sa, sb := bounded(a), bounded(b)
	if sa+sb <= budget {
		return a, b
	}
	half := budget / 2
	switch {
	case sa <= half:
		return a, fit(b, budget-sa, size)
	case sb <= half:
		return fit(a, budget-sb, size), b
	}
	a = fit(a, half, size)
	return a, fit(b, budget-size(a), size)
}

// clip returns at most the first n bytes of s, cut between characters, for quoting input in an error.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	cut := 0
	for i := range s {
		if i > n {
			break
		}
		cut = i
	}
	return s[:cut] + ellipsis
}
