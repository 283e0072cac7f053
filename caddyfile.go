package caddybff

func init() {
	registerCaddyfile()
}

// registerCaddyfile registers every Caddyfile directive, global option and
// directive order of the project.
func registerCaddyfile() {
}
