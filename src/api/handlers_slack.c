/*
 * handlers_slack.c - Slack's interactivity callbacks (being written: 501 until then).
 */
#include "api/api.h"

void api_slack_interactions(void *app, struct http_request *req, struct http_response *resp)
{
    (void)app;
    (void)req;
    http_response_error(resp, 501, "the slack provider is not built yet");
}
