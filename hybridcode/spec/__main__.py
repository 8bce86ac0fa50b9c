"""``python -m hybridcode.spec > docs/spec.schema.json``"""

import json

from hybridcode.spec.schema import spec_json_schema

print(json.dumps(spec_json_schema(), indent=2, ensure_ascii=False))
