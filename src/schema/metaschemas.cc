// The JSON Schema meta-schemas (draft 2020-12 and its vocabularies, draft-07), as
// published by json-schema.org (BSD-3-Clause / AFL-2.1), so that `$ref`s to them resolve
// without any network access. Generated; compact JSON.
#include "schema/metaschemas.h"

namespace rampart::schema::internal {

const std::vector<MetaschemaText>& BuiltinMetaschemas() {
  static const std::vector<MetaschemaText> kMetaschemas = {
      {"https://json-schema.org/draft/2020-12/schema",
       R"json({"$schema":"https://json-schema.org/draft/2020-12/schema","$id":"https://json-schema.org/d)json"
       R"json(raft/2020-12/schema","$vocabulary":{"https://json-schema.org/draft/2020-12/vocab/core":tru)json"
       R"json(e,"https://json-schema.org/draft/2020-12/vocab/applicator":true,"https://json-schema.org/d)json"
       R"json(raft/2020-12/vocab/unevaluated":true,"https://json-schema.org/draft/2020-12/vocab/validati)json"
       R"json(on":true,"https://json-schema.org/draft/2020-12/vocab/meta-data":true,"https://json-schema)json"
       R"json(.org/draft/2020-12/vocab/format-annotation":true,"https://json-schema.org/draft/2020-12/vo)json"
       R"json(cab/content":true},"$dynamicAnchor":"meta","title":"Core and Validation specifications met)json"
       R"json(a-schema","allOf":[{"$ref":"meta/core"},{"$ref":"meta/applicator"},{"$ref":"meta/unevaluat)json"
       R"json(ed"},{"$ref":"meta/validation"},{"$ref":"meta/meta-data"},{"$ref":"meta/format-annotation")json"
       R"json(},{"$ref":"meta/content"}],"type":["object","boolean"],"properties":{"definitions":{"$comm)json"
       R"json(ent":"\"definitions\" has been replaced by \"$defs\".","type":"object","additionalProperti)json"
       R"json(es":{"$dynamicRef":"#meta"},"deprecated":true,"default":{}},"dependencies":{"$comment":"\")json"
       R"json(dependencies\" has been split and replaced by \"dependentSchemas\" and \"dependentRequired)json"
       R"json(\" in order to serve their differing semantics.","type":"object","additionalProperties":{")json"
       R"json(anyOf":[{"$dynamicRef":"#meta"},{"$ref":"meta/validation#/$defs/stringArray"}]},"deprecate)json"
       R"json(d":true,"default":{}},"$recursiveAnchor":{"$comment":"\"$recursiveAnchor\" has been replac)json"
       R"json(ed by \"$dynamicAnchor\".","$ref":"meta/core#/$defs/anchorString","deprecated":true},"$rec)json"
       R"json(ursiveRef":{"$comment":"\"$recursiveRef\" has been replaced by \"$dynamicRef\".","$ref":"m)json"
       R"json(eta/core#/$defs/uriReferenceString","deprecated":true}}})json"},
      {"https://json-schema.org/draft/2020-12/meta/core",
       R"json({"$schema":"https://json-schema.org/draft/2020-12/schema","$id":"https://json-schema.org/d)json"
       R"json(raft/2020-12/meta/core","$vocabulary":{"https://json-schema.org/draft/2020-12/vocab/core":)json"
       R"json(true},"$dynamicAnchor":"meta","title":"Core vocabulary meta-schema","type":["object","bool)json"
       R"json(ean"],"properties":{"$id":{"$ref":"#/$defs/uriReferenceString","$comment":"Non-empty fragm)json"
       R"json(ents not allowed.","pattern":"^[^#]*#?$"},"$schema":{"$ref":"#/$defs/uriString"},"$ref":{")json"
       R"json($ref":"#/$defs/uriReferenceString"},"$anchor":{"$ref":"#/$defs/anchorString"},"$dynamicRef)json"
       R"json(":{"$ref":"#/$defs/uriReferenceString"},"$dynamicAnchor":{"$ref":"#/$defs/anchorString"},")json"
       R"json($vocabulary":{"type":"object","propertyNames":{"$ref":"#/$defs/uriString"},"additionalProp)json"
       R"json(erties":{"type":"boolean"}},"$comment":{"type":"string"},"$defs":{"type":"object","additio)json"
       R"json(nalProperties":{"$dynamicRef":"#meta"}}},"$defs":{"anchorString":{"type":"string","pattern)json"
       R"json(":"^[A-Za-z_][-A-Za-z0-9._]*$"},"uriString":{"type":"string","format":"uri"},"uriReference)json"
       R"json(String":{"type":"string","format":"uri-reference"}}})json"},
      {"https://json-schema.org/draft/2020-12/meta/applicator",
       R"json({"$schema":"https://json-schema.org/draft/2020-12/schema","$id":"https://json-schema.org/d)json"
       R"json(raft/2020-12/meta/applicator","$vocabulary":{"https://json-schema.org/draft/2020-12/vocab/)json"
       R"json(applicator":true},"$dynamicAnchor":"meta","title":"Applicator vocabulary meta-schema","typ)json"
       R"json(e":["object","boolean"],"properties":{"prefixItems":{"$ref":"#/$defs/schemaArray"},"items")json"
       R"json(:{"$dynamicRef":"#meta"},"contains":{"$dynamicRef":"#meta"},"additionalProperties":{"$dyna)json"
       R"json(micRef":"#meta"},"properties":{"type":"object","additionalProperties":{"$dynamicRef":"#met)json"
       R"json(a"},"default":{}},"patternProperties":{"type":"object","additionalProperties":{"$dynamicRe)json"
       R"json(f":"#meta"},"propertyNames":{"format":"regex"},"default":{}},"dependentSchemas":{"type":"o)json"
       R"json(bject","additionalProperties":{"$dynamicRef":"#meta"},"default":{}},"propertyNames":{"$dyn)json"
       R"json(amicRef":"#meta"},"if":{"$dynamicRef":"#meta"},"then":{"$dynamicRef":"#meta"},"else":{"$dy)json"
       R"json(namicRef":"#meta"},"allOf":{"$ref":"#/$defs/schemaArray"},"anyOf":{"$ref":"#/$defs/schemaA)json"
       R"json(rray"},"oneOf":{"$ref":"#/$defs/schemaArray"},"not":{"$dynamicRef":"#meta"}},"$defs":{"sch)json"
       R"json(emaArray":{"type":"array","minItems":1,"items":{"$dynamicRef":"#meta"}}}})json"},
      {"https://json-schema.org/draft/2020-12/meta/unevaluated",
       R"json({"$schema":"https://json-schema.org/draft/2020-12/schema","$id":"https://json-schema.org/d)json"
       R"json(raft/2020-12/meta/unevaluated","$vocabulary":{"https://json-schema.org/draft/2020-12/vocab)json"
       R"json(/unevaluated":true},"$dynamicAnchor":"meta","title":"Unevaluated applicator vocabulary met)json"
       R"json(a-schema","type":["object","boolean"],"properties":{"unevaluatedItems":{"$dynamicRef":"#me)json"
       R"json(ta"},"unevaluatedProperties":{"$dynamicRef":"#meta"}}})json"},
      {"https://json-schema.org/draft/2020-12/meta/validation",
       R"json({"$schema":"https://json-schema.org/draft/2020-12/schema","$id":"https://json-schema.org/d)json"
       R"json(raft/2020-12/meta/validation","$vocabulary":{"https://json-schema.org/draft/2020-12/vocab/)json"
       R"json(validation":true},"$dynamicAnchor":"meta","title":"Validation vocabulary meta-schema","typ)json"
       R"json(e":["object","boolean"],"properties":{"type":{"anyOf":[{"$ref":"#/$defs/simpleTypes"},{"ty)json"
       R"json(pe":"array","items":{"$ref":"#/$defs/simpleTypes"},"minItems":1,"uniqueItems":true}]},"con)json"
       R"json(st":true,"enum":{"type":"array","items":true},"multipleOf":{"type":"number","exclusiveMini)json"
       R"json(mum":0},"maximum":{"type":"number"},"exclusiveMaximum":{"type":"number"},"minimum":{"type")json"
       R"json(:"number"},"exclusiveMinimum":{"type":"number"},"maxLength":{"$ref":"#/$defs/nonNegativeIn)json"
       R"json(teger"},"minLength":{"$ref":"#/$defs/nonNegativeIntegerDefault0"},"pattern":{"type":"strin)json"
       R"json(g","format":"regex"},"maxItems":{"$ref":"#/$defs/nonNegativeInteger"},"minItems":{"$ref":")json"
       R"json(#/$defs/nonNegativeIntegerDefault0"},"uniqueItems":{"type":"boolean","default":false},"max)json"
       R"json(Contains":{"$ref":"#/$defs/nonNegativeInteger"},"minContains":{"$ref":"#/$defs/nonNegative)json"
       R"json(Integer","default":1},"maxProperties":{"$ref":"#/$defs/nonNegativeInteger"},"minProperties)json"
       R"json(":{"$ref":"#/$defs/nonNegativeIntegerDefault0"},"required":{"$ref":"#/$defs/stringArray"},)json"
       R"json("dependentRequired":{"type":"object","additionalProperties":{"$ref":"#/$defs/stringArray"})json"
       R"json(}},"$defs":{"nonNegativeInteger":{"type":"integer","minimum":0},"nonNegativeIntegerDefault)json"
       R"json(0":{"$ref":"#/$defs/nonNegativeInteger","default":0},"simpleTypes":{"enum":["array","boole)json"
       R"json(an","integer","null","number","object","string"]},"stringArray":{"type":"array","items":{")json"
       R"json(type":"string"},"uniqueItems":true,"default":[]}}})json"},
      {"https://json-schema.org/draft/2020-12/meta/meta-data",
       R"json({"$schema":"https://json-schema.org/draft/2020-12/schema","$id":"https://json-schema.org/d)json"
       R"json(raft/2020-12/meta/meta-data","$vocabulary":{"https://json-schema.org/draft/2020-12/vocab/m)json"
       R"json(eta-data":true},"$dynamicAnchor":"meta","title":"Meta-data vocabulary meta-schema","type":)json"
       R"json(["object","boolean"],"properties":{"title":{"type":"string"},"description":{"type":"string)json"
       R"json("},"default":true,"deprecated":{"type":"boolean","default":false},"readOnly":{"type":"bool)json"
       R"json(ean","default":false},"writeOnly":{"type":"boolean","default":false},"examples":{"type":"a)json"
       R"json(rray","items":true}}})json"},
      {"https://json-schema.org/draft/2020-12/meta/format-annotation",
       R"json({"$schema":"https://json-schema.org/draft/2020-12/schema","$id":"https://json-schema.org/d)json"
       R"json(raft/2020-12/meta/format-annotation","$vocabulary":{"https://json-schema.org/draft/2020-12)json"
       R"json(/vocab/format-annotation":true},"$dynamicAnchor":"meta","title":"Format vocabulary meta-sc)json"
       R"json(hema for annotation results","type":["object","boolean"],"properties":{"format":{"type":"s)json"
       R"json(tring"}}})json"},
      {"https://json-schema.org/draft/2020-12/meta/content",
       R"json({"$schema":"https://json-schema.org/draft/2020-12/schema","$id":"https://json-schema.org/d)json"
       R"json(raft/2020-12/meta/content","$vocabulary":{"https://json-schema.org/draft/2020-12/vocab/con)json"
       R"json(tent":true},"$dynamicAnchor":"meta","title":"Content vocabulary meta-schema","type":["obje)json"
       R"json(ct","boolean"],"properties":{"contentEncoding":{"type":"string"},"contentMediaType":{"type)json"
       R"json(":"string"},"contentSchema":{"$dynamicRef":"#meta"}}})json"},
      {"http://json-schema.org/draft-07/schema",
       R"json({"$schema":"http://json-schema.org/draft-07/schema#","$id":"http://json-schema.org/draft-0)json"
       R"json(7/schema#","title":"Core schema meta-schema","definitions":{"schemaArray":{"type":"array",)json"
       R"json("minItems":1,"items":{"$ref":"#"}},"nonNegativeInteger":{"type":"integer","minimum":0},"no)json"
       R"json(nNegativeIntegerDefault0":{"allOf":[{"$ref":"#/definitions/nonNegativeInteger"},{"default")json"
       R"json(:0}]},"simpleTypes":{"enum":["array","boolean","integer","null","number","object","string")json"
       R"json(]},"stringArray":{"type":"array","items":{"type":"string"},"uniqueItems":true,"default":[])json"
       R"json(}},"type":["object","boolean"],"properties":{"$id":{"type":"string","format":"uri-referenc)json"
       R"json(e"},"$schema":{"type":"string","format":"uri"},"$ref":{"type":"string","format":"uri-refer)json"
       R"json(ence"},"$comment":{"type":"string"},"title":{"type":"string"},"description":{"type":"strin)json"
       R"json(g"},"default":true,"readOnly":{"type":"boolean","default":false},"examples":{"type":"array)json"
       R"json(","items":true},"multipleOf":{"type":"number","exclusiveMinimum":0},"maximum":{"type":"num)json"
       R"json(ber"},"exclusiveMaximum":{"type":"number"},"minimum":{"type":"number"},"exclusiveMinimum":)json"
       R"json({"type":"number"},"maxLength":{"$ref":"#/definitions/nonNegativeInteger"},"minLength":{"$r)json"
       R"json(ef":"#/definitions/nonNegativeIntegerDefault0"},"pattern":{"type":"string","format":"regex)json"
       R"json("},"additionalItems":{"$ref":"#"},"items":{"anyOf":[{"$ref":"#"},{"$ref":"#/definitions/sc)json"
       R"json(hemaArray"}],"default":true},"maxItems":{"$ref":"#/definitions/nonNegativeInteger"},"minIt)json"
       R"json(ems":{"$ref":"#/definitions/nonNegativeIntegerDefault0"},"uniqueItems":{"type":"boolean",")json"
       R"json(default":false},"contains":{"$ref":"#"},"maxProperties":{"$ref":"#/definitions/nonNegative)json"
       R"json(Integer"},"minProperties":{"$ref":"#/definitions/nonNegativeIntegerDefault0"},"required":{)json"
       R"json("$ref":"#/definitions/stringArray"},"additionalProperties":{"$ref":"#"},"definitions":{"ty)json"
       R"json(pe":"object","additionalProperties":{"$ref":"#"},"default":{}},"properties":{"type":"objec)json"
       R"json(t","additionalProperties":{"$ref":"#"},"default":{}},"patternProperties":{"type":"object",)json"
       R"json("additionalProperties":{"$ref":"#"},"propertyNames":{"format":"regex"},"default":{}},"depe)json"
       R"json(ndencies":{"type":"object","additionalProperties":{"anyOf":[{"$ref":"#"},{"$ref":"#/defini)json"
       R"json(tions/stringArray"}]}},"propertyNames":{"$ref":"#"},"const":true,"enum":{"type":"array","i)json"
       R"json(tems":true,"minItems":1,"uniqueItems":true},"type":{"anyOf":[{"$ref":"#/definitions/simple)json"
       R"json(Types"},{"type":"array","items":{"$ref":"#/definitions/simpleTypes"},"minItems":1,"uniqueI)json"
       R"json(tems":true}]},"format":{"type":"string"},"contentMediaType":{"type":"string"},"contentEnco)json"
       R"json(ding":{"type":"string"},"if":{"$ref":"#"},"then":{"$ref":"#"},"else":{"$ref":"#"},"allOf":)json"
       R"json({"$ref":"#/definitions/schemaArray"},"anyOf":{"$ref":"#/definitions/schemaArray"},"oneOf":)json"
       R"json({"$ref":"#/definitions/schemaArray"},"not":{"$ref":"#"}},"default":true})json"},
  };
  return kMetaschemas;
}

}  // namespace rampart::schema::internal
