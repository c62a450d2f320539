package sim

import (
	"net/http"
	"strconv"
)

// serveControl answers the simulator's own endpoints under /_sim/.
func (s *Server) serveControl(w http.ResponseWriter, r *http.Request, what string) {
	switch what {
	case "alerts":
		if !allow(w, r, http.MethodGet) {
			return
		}
		n := -1
		if v := r.URL.Query().Get("n"); v != "" {
			k, err := strconv.Atoi(v)
			if err != nil || k < 0 {
				errorResponse(http.StatusBadRequest, "", "n must be a non-negative integer.").write(w)
				return
			}
			n = k
		}
		response{status: http.StatusOK, body: mustJSON(s.AlertIDs(n))}.write(w)
	case "stats":
		if !allow(w, r, http.MethodGet) {
			return
		}
		response{status: http.StatusOK, body: mustJSON(s.Stats())}.write(w)
	case "reset":
		if !allow(w, r, http.MethodPost) {
			return
		}
		s.Reset()
		w.WriteHeader(http.StatusNoContent)
	default:
		errorResponse(http.StatusNotFound, "NotFound", "The requested resource was not found.").write(w)
	}
}
