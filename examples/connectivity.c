/* connectivity.c — read one device from T-Mobile's Connectivity API with libtaap.
 * usage: TAAP_BASE_URL=… TAAP_CLIENT_ID=… TAAP_CLIENT_SECRET=… TAAP_PRIVATE_KEY=key.pem \
 *        example_connectivity ICCID */
#include <stdio.h>
#include <stdlib.h>
#include <taap/taap.h>

int main(int argc, char **argv)
{
    taap_error err = TAAP_ERROR_INIT;
    taap_key *key = NULL;
    taap_client *client = NULL;
    taap_http_response *resp = NULL;
    char path[128];
    if (argc != 2 || !getenv("TAAP_PRIVATE_KEY"))
        return fprintf(stderr, "usage: %s ICCID (with TAAP_* set)\n", argv[0]), 2;
    if (taap_key_load_private_file(getenv("TAAP_PRIVATE_KEY"), NULL, 0, &key, NULL, &err) == TAAP_OK) {
        taap_client_config cfg;
        taap_client_config_init(&cfg);
        cfg.base_url = getenv("TAAP_BASE_URL");
        cfg.client_id = getenv("TAAP_CLIENT_ID");
        cfg.client_secret = getenv("TAAP_CLIENT_SECRET");
        cfg.key = key;
        snprintf(path, sizeof path, "/iot-connectivity/v1/devices/%s", argv[1]);
        taap_request req = {.method = "GET", .target = path};
        if (taap_client_new(&cfg, &client, &err) == TAAP_OK &&
            taap_client_request(client, &req, NULL, &resp, NULL, &err) == TAAP_OK)
            printf("HTTP %ld\n%s\n", resp->status, resp->body);
    }
    int rc = err.code != TAAP_OK ? 1 : (resp && resp->status < 400 ? 0 : 3);
    if (err.code != TAAP_OK)
        fprintf(stderr, "error: %s\n", err.message);
    taap_http_response_free(resp);
    taap_client_free(client);
    taap_key_free(key);
    return rc;
}
