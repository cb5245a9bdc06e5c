/* server.c — the emulator's libmicrohttpd wiring (to be written). */
typedef int taap_serve_placeholder;
