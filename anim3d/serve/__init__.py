"""``anim3d serve``: the motion model behind an HTTP API and a WebSocket stream (FastAPI + uvicorn;
``pip install 'anim3d[serve]'``).

- ``config``: ``ServerConfig``, the server's limits and settings (no FastAPI needed to build one);
- ``controls``: a request's form fields -> ``MotionSettings`` through the command line's own option types and
  defaults (``anim3d.commands.options``), and a Motion -> the bytes of the asked format;
- ``work``: ``WorkQueue``, the bounded queue of requests in front of the model's one worker thread;
- ``middleware``: the JSON access log, the API key and the upload size limit (checked before the body is read);
- ``stream``: ``WS /v1/stream``, speech in as it is spoken and frames out as they are made (one
  ``StreamingAnimator`` per connection on the shared model, at most ``max_streams`` at once);
- ``capture``: each request's and each stream's own warnings, apart from those of the others running beside it;
- ``page``: ``GET /``, the page to try it in a browser (``static/``: three.js vendored, no CDN), ``/head.glb``;
- ``app``: ``create_app``, the FastAPI application (``POST /v1/animate``, ``WS /v1/stream``, ``GET /health``, docs
  at ``/docs``, the page).

The package is an interface to the motion model as the command line is, at the same layer
(``tests/test_layering.py``): it reads requests with the command line's definitions.
"""
