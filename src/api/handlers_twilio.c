/*
 * handlers_twilio.c - Twilio's callbacks (being written: 501 until then).
 */
#include "api/api.h"

static void not_yet(void *app, struct http_request *req, struct http_response *resp)
{
    (void)app;
    (void)req;
    http_response_error(resp, 501, "the twilio provider is not built yet");
}

void api_twilio_voice(void *app, struct http_request *req, struct http_response *resp)
{
    not_yet(app, req, resp);
}

void api_twilio_gather(void *app, struct http_request *req, struct http_response *resp)
{
    not_yet(app, req, resp);
}

void api_twilio_status(void *app, struct http_request *req, struct http_response *resp)
{
    not_yet(app, req, resp);
}

void api_twilio_sms_inbound(void *app, struct http_request *req, struct http_response *resp)
{
    not_yet(app, req, resp);
}
