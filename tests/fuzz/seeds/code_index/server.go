package server

type Handler interface {
	Serve(path string) string
}

type Server struct {
	routes map[string]Handler
}

func New() *Server {
	return &Server{routes: map[string]Handler{}}
}

func (s *Server) Handle(path string, h Handler) {
	s.routes[path] = h
}
