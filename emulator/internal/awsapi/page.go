package awsapi

import (
	"encoding/base64"
	"fmt"
	"strconv"
	"strings"
)

// tokenPrefix marks the emulator's page tokens, so a token from another service or a corrupted
// one is refused instead of read as an offset.
const tokenPrefix = "azlens-page:"

// PageParams reads the maxResults and nextToken query parameters of a List call: maxResults must
// be a whole number from 1 to limit (absent means limit); nextToken must be one a previous page
// returned. The error message names the parameter.
func PageParams(maxResults, nextToken string, limit int) (size, offset int, err error) {
	size = limit
	if maxResults != "" {
		n, perr := strconv.Atoi(maxResults)
		if perr != nil || n < 1 || n > limit {
			return 0, 0, fmt.Errorf("maxResults must be a whole number from 1 to %d, got %q", limit, clip(maxResults))
		}
		size = n
	}
	if nextToken != "" {
		b, derr := base64.RawURLEncoding.DecodeString(nextToken)
		rest, ok := strings.CutPrefix(string(b), tokenPrefix)
		n, perr := strconv.Atoi(rest)
		if derr != nil || !ok || perr != nil || n < 0 {
			return 0, 0, fmt.Errorf("nextToken %q is not a token this service returned", clip(nextToken))
		}
		offset = n
	}
	return size, offset, nil
}

// Page returns the page of items at offset, and the token of the next page ("" on the last).
// Items are listed in a stable order (start or creation order), so an offset stays meaningful
// between calls; an offset past the end is an empty last page.
func Page[T any](items []T, size, offset int) ([]T, string) {
	if offset >= len(items) {
		return []T{}, ""
	}
	end := min(len(items), offset+size)
	next := ""
	if end < len(items) {
		next = base64.RawURLEncoding.EncodeToString([]byte(tokenPrefix + strconv.Itoa(end)))
	}
	return items[offset:end], next
}
