package region

import "net/http"

// Handle serves h for pattern (http.ServeMux syntax, e.g. "GET /metrics") on the front door, beside
// the Invoke API; unlike Mount it strips nothing, so an exact path stays exact.
func (fd *FrontDoor) Handle(pattern string, h http.Handler) { fd.mux.Handle(pattern, h) }
