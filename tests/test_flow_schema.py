"""The flow's parameters as the Prefect UI sees them: VideoRequest renders as a form."""

from prefect.utilities.callables import parameter_schema

from flows.generate_video import generate_video


def test_flow_parameters_render_the_request_as_a_form():
    schema = parameter_schema(generate_video).model_dump_for_openapi()
    assert schema["required"] == ["request"]
    request = schema["definitions"]["VideoRequest"]
    fields = request["properties"]
    for name in ("brief", "duration_seconds", "aspect", "resolution", "fps", "language", "voice", "music", "seed", "style"):
        assert name in fields, name
    assert fields["duration_seconds"]["minimum"] == 10 and fields["duration_seconds"]["maximum"] == 1200
    assert fields["aspect"]["enum"] == ["16:9", "9:16", "1:1"]
    assert set(fields["style"]["enum"]) == {"documentary", "explainer", "promo", "tutorial", "story"}
    assert request["required"] == ["brief"]
    assert schema["properties"]["preset"]["enum"] == ["default", "debug", "quick_demo"]
