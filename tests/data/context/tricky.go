package server

import (
	"fmt"
	"net/http"
)

// Server serves — ünïcode.
type Server struct {
	addr string
}

type (
	Handler func(http.ResponseWriter)
	Stack[T any] struct{ items []T }
)

// Start starts the server.
// It blocks.
func (s *Server) Start() error {
	fmt.Println("start", s.addr)
	return nil
}

func (s *Stack[T]) Push(v T) {
	s.items = append(s.items, v)
}

func New(addr string) *Server {
	return &Server{addr: addr}
}
